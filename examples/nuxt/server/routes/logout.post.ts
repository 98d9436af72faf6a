import { backToShop, sessionOf, shop } from "../shop";

export default defineEventHandler(async (event) => {
  const session = sessionOf(event);
  const form = await shop.formOf(toWebRequest(event), session);
  if (form instanceof Response) return form;
  await session.flush(); // deletes the record and the cookie
  return backToShop();
});
