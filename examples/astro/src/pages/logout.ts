import type { APIRoute } from "astro";
import { backToShop, sessionOf, shop } from "../shop.js";

export const POST: APIRoute = async ({ request, locals }) => {
  const form = await shop.formOf(request, sessionOf(locals));
  if (form instanceof Response) return form;
  await sessionOf(locals).flush(); // deletes the record and the cookie
  return backToShop();
};
