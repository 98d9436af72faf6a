/**
 * The shop's requests for the frameworks that hand a route a Fetch `Request` (SvelteKit, Astro):
 * the page with its CSRF token, the form check every POST makes, and the redirect after it.
 * @module
 */
import type { Session, Sessions } from "tessera-sessions";
import { createCsrf } from "tessera-sessions/csrf";
import { readForm } from "./http.js";
import { FORGED_FORM, shopPage, type ShopSession } from "./shop.js";

export interface WebShop {
  /** The shop's page for this visitor, every form carrying the CSRF token (and its cookie, if new). */
  page(request: Request, session: Session<ShopSession>): Promise<Response>;
  /** The request's form, or the answer: 413/415 for a body that is not a small form, 403 without a valid CSRF token. */
  formOf(request: Request, session: Session<ShopSession>): Promise<URLSearchParams | Response>;
}

const text = (body: string, status: number): Response => new Response(body, { status, headers: { "Content-Type": "text/plain; charset=utf-8" } });

/** After a POST, back to the shop (303: the browser follows with a GET). */
export const backToShop = (): Response => new Response(null, { status: 303, headers: { Location: "/" } });

export function webShop(sessions: Sessions<ShopSession>): WebShop {
  const csrf = createCsrf(sessions); // every form carries a token; every POST must return it
  return {
    async page(request, session) {
      const { token, setCookie } = await csrf.issue(request.headers.get("cookie") ?? undefined, session);
      const headers = new Headers({ "Content-Type": "text/html; charset=utf-8" });
      if (setCookie) headers.append("Set-Cookie", setCookie);
      return new Response(shopPage(await session.get("username"), await session.get("cart", []), token), { headers });
    },
    async formOf(request, session) {
      const form = await readForm(request.headers.get("content-type"), request.body);
      if (!(form instanceof URLSearchParams)) return text(form.message, form.status);
      return (await csrf.verify(request.headers.get("cookie") ?? undefined, form.get(csrf.fieldName), session)) ? form : text(FORGED_FORM, 403);
    },
  };
}
