/**
 * The shop demo as a plain Fetch handler, `(request) => Promise<Response>`, the shape of
 * Next.js route handlers, React Router loaders/actions, Bun.serve and Deno.serve: log in (the
 * session key is cycled), fill a cart that survives requests and the login, log out (flush).
 * @module
 */
import { pathToFileURL } from "node:url";
import { getRequestListener } from "@hono/node-server";
import { createSessions, type Sessions } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { createCsrf } from "tessera-sessions/csrf";
import { withSession } from "tessera-sessions/fetch";
import { readForm, serveOnLoopback } from "../shared/http.js";
import { FORGED_FORM, shopPage as page, shopSecret, type ShopSession } from "../shared/shop.js";

export type { ShopSession };

/** Builds the handler; the session is typed by `sessions`. */
export function createShop(sessions: Sessions<ShopSession>): (request: Request) => Promise<Response> {
  const csrf = createCsrf(sessions); // every form carries a token; every POST must return it
  return (request) =>
    withSession(sessions, request, async (session) => {
      const { pathname } = new URL(request.url);
      const cookies = request.headers.get("cookie");
      if (request.method === "GET" && pathname === "/") {
        const { token, setCookie } = await csrf.issue(cookies, session);
        const html = page(await session.get("username"), await session.get("cart", []), token);
        const headers = new Headers({ "Content-Type": "text/html; charset=utf-8" });
        if (setCookie) headers.append("Set-Cookie", setCookie);
        return new Response(html, { headers });
      }
      if (request.method !== "POST") return new Response("Not Found", { status: 404 });
      const form = await readForm(request.headers.get("content-type"), request.body);
      if (!(form instanceof URLSearchParams)) return new Response(form.message, { status: form.status });
      if (!(await csrf.verify(cookies, form.get(csrf.fieldName), session))) return new Response(FORGED_FORM, { status: 403 });
      const field = (name: string, fallback: string) => form.get(name) || fallback;
      if (pathname === "/login") {
        await session.cycleKey(); // a new key at login, so a key planted before it is worthless
        await session.set("username", field("username", "guest"));
        await session.setUser(field("username", "guest")); // also retires the CSRF tokens shown before the login
      } else if (pathname === "/cart") {
        await session.set("cart", [...(await session.get("cart", [])), field("item", "?")]);
      } else if (pathname === "/logout") {
        await session.flush(); // deletes the record and the cookie
      } else return new Response("Not Found", { status: 404 });
      return new Response(null, { status: 303, headers: { Location: "/" } });
    });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const sessions = createSessions<ShopSession>({
    backend: memoryBackend(), // or databaseBackend({ url: "sqlite:sessions.sqlite3" }) from "tessera-sessions/backends/db"
    cookie: { secure: false }, // plain http on localhost: a Secure cookie would never be sent back
    secret: shopSecret(),
  });
  // Node has no built-in Fetch server; @hono/node-server bridges. On Bun: Bun.serve({ fetch: handler, port }).
  serveOnLoopback("Fetch shop", getRequestListener(createShop(sessions)), 3003, () => sessions.close());
}
