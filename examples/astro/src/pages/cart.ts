import type { APIRoute } from "astro";
import { backToShop, sessionOf, shop } from "../shop.js";

export const POST: APIRoute = async ({ request, locals }) => {
  const form = await shop.formOf(request, sessionOf(locals));
  if (form instanceof Response) return form;
  const session = sessionOf(locals);
  await session.set("cart", [...(await session.get("cart", [])), form.get("item") || "?"]);
  return backToShop();
};
