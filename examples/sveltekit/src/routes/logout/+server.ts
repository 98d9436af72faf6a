import type { RequestHandler } from "@sveltejs/kit";
import { backToShop, sessionOf, shop } from "../../shop.js";

export const POST: RequestHandler = async ({ request, locals }) => {
  const form = await shop.formOf(request, sessionOf(locals));
  if (form instanceof Response) return form;
  await sessionOf(locals).flush(); // deletes the record and the cookie
  return backToShop();
};
