/**
 * The shop demo on h3 v2 (Nitro's server; Nuxt 5): log in (the session key is cycled), fill a
 * cart that survives requests and the login, log out (the session is flushed).
 * @module
 */
import { pathToFileURL } from "node:url";
import { H3, redirect, toNodeHandler, type H3Event } from "h3";
import { createSessions, type Session, type Sessions } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { createCsrf } from "tessera-sessions/csrf";
import { sessionMiddleware } from "tessera-sessions/h3";
import { readForm, serveOnLoopback } from "../shared/http.js";
import { FORGED_FORM, shopPage as page, shopSecret, type ShopSession } from "../shared/shop.js";

export type { ShopSession };

const text = (body: string, status: number) => new Response(body, { status, headers: { "Content-Type": "text/plain; charset=utf-8" } });

/** Builds the app; `event.context.session` is the visitor's session (set by the middleware). */
export function createShop(sessions: Sessions<ShopSession>): H3 {
  const app = new H3();
  const csrf = createCsrf(sessions); // every form carries a token; every POST must return it
  // event.context carries the session the middleware set; sessions.of() types it as this app's.
  const sessionOf = (event: H3Event): Session<ShopSession> => sessions.of(event.context);
  /** The request's form, or the answer: 413/415 for a body that is not a small form, 403 without a valid CSRF token. */
  const formOf = async (event: H3Event): Promise<URLSearchParams | Response> => {
    const form = await readForm(event.req.headers.get("content-type") ?? undefined, event.req.body);
    if (!(form instanceof URLSearchParams)) return text(form.message, form.status);
    return (await csrf.verify(event.req.headers.get("cookie") ?? undefined, form.get(csrf.fieldName), sessionOf(event))) ? form : text(FORGED_FORM, 403);
  };
  app.use(sessionMiddleware(sessions));
  app.get("/", async (event) => {
    const session = sessionOf(event);
    const { token, setCookie } = await csrf.issue(event.req.headers.get("cookie") ?? undefined, session);
    const headers = new Headers({ "Content-Type": "text/html; charset=utf-8" });
    if (setCookie) headers.append("Set-Cookie", setCookie);
    return new Response(page(await session.get("username"), await session.get("cart", []), token), { headers });
  });
  app.post("/login", async (event) => {
    const form = await formOf(event);
    if (form instanceof Response) return form;
    const username = form.get("username") || "guest";
    const session = sessionOf(event);
    await session.cycleKey(); // a new key at login, so a key planted before it is worthless
    await session.set("username", username);
    await session.setUser(username); // also retires the CSRF tokens shown before the login
    return redirect("/", 303);
  });
  app.post("/cart", async (event) => {
    const form = await formOf(event);
    if (form instanceof Response) return form;
    const session = sessionOf(event);
    await session.set("cart", [...(await session.get("cart", [])), form.get("item") || "?"]);
    return redirect("/", 303);
  });
  app.post("/logout", async (event) => {
    const form = await formOf(event);
    if (form instanceof Response) return form;
    await sessionOf(event).flush(); // deletes the record and the cookie
    return redirect("/", 303);
  });
  return app;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const sessions = createSessions<ShopSession>({
    backend: memoryBackend(), // or databaseBackend({ url: "sqlite:sessions.sqlite3" }) from "tessera-sessions/backends/db"
    cookie: { secure: false }, // plain http on localhost: a Secure cookie would never be sent back
    secret: shopSecret(),
  });
  serveOnLoopback("h3 shop", toNodeHandler(createShop(sessions)), 3006, () => sessions.close());
}
