import { backToShop, sessionOf, shop } from "../shop";

export default defineEventHandler(async (event) => {
  const session = sessionOf(event);
  const form = await shop.formOf(toWebRequest(event), session);
  if (form instanceof Response) return form;
  const username = form.get("username") || "guest";
  await session.cycleKey(); // a new key at login, so a key planted before it is worthless
  await session.set("username", username);
  await session.setUser(username); // also retires the CSRF tokens shown before the login
  return backToShop();
});
