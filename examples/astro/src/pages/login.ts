import type { APIRoute } from "astro";
import { backToShop, sessionOf, shop } from "../shop.js";

export const POST: APIRoute = async ({ request, locals }) => {
  const form = await shop.formOf(request, sessionOf(locals));
  if (form instanceof Response) return form;
  const username = form.get("username") || "guest";
  const session = sessionOf(locals);
  await session.cycleKey(); // a new key at login, so a key planted before it is worthless
  await session.set("username", username);
  await session.setUser(username); // also retires the CSRF tokens shown before the login
  return backToShop();
};
