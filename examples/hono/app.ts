/**
 * The shop demo on Hono: log in (the session key is cycled), fill a cart that survives requests
 * and the login, log out (the session is flushed). `app.fetch` also runs on Bun, Deno and workers.
 * @module
 */
import { pathToFileURL } from "node:url";
import { getRequestListener } from "@hono/node-server";
import { Hono, type Context } from "hono";
import { createSessions, type Session, type Sessions } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { createCsrf } from "tessera-sessions/csrf";
import { sessionMiddleware } from "tessera-sessions/hono";
import { readForm, serveOnLoopback } from "../shared/http.js";
import { FORGED_FORM, shopPage as page, shopSecret, type ShopSession } from "../shared/shop.js";

export type { ShopSession };

type ShopEnv = { Variables: { session: Session<ShopSession> } };

/** Builds the app. Typing `Variables` makes `c.get("session")` a `Session<ShopSession>`. */
export function createShop(sessions: Sessions<ShopSession>): Hono<ShopEnv> {
  const app = new Hono<ShopEnv>();
  const csrf = createCsrf(sessions); // every form carries a token; every POST must return it
  /** The request's form, or the answer: 413/415 for a body that is not a small form, 403 without a valid CSRF token. */
  const formOf = async (c: Context<ShopEnv>): Promise<URLSearchParams | Response> => {
    const form = await readForm(c.req.header("content-type"), c.req.raw.body);
    if (!(form instanceof URLSearchParams)) return c.text(form.message, form.status);
    return (await csrf.verify(c.req.header("Cookie"), form.get(csrf.fieldName), c.get("session"))) ? form : c.text(FORGED_FORM, 403);
  };
  app.use(sessionMiddleware(sessions));
  app.get("/", async (c) => {
    const session = c.get("session");
    const { token, setCookie } = await csrf.issue(c.req.header("Cookie"), session);
    if (setCookie) c.header("Set-Cookie", setCookie, { append: true });
    return c.html(page(await session.get("username"), await session.get("cart", []), token));
  });
  app.post("/login", async (c) => {
    const form = await formOf(c);
    if (form instanceof Response) return form;
    const username = form.get("username") || "guest";
    await c.get("session").cycleKey(); // a new key at login, so a key planted before it is worthless
    await c.get("session").set("username", username);
    await c.get("session").setUser(username); // also retires the CSRF tokens shown before the login
    return c.redirect("/", 303);
  });
  app.post("/cart", async (c) => {
    const form = await formOf(c);
    if (form instanceof Response) return form;
    const session = c.get("session");
    await session.set("cart", [...(await session.get("cart", [])), form.get("item") || "?"]);
    return c.redirect("/", 303);
  });
  app.post("/logout", async (c) => {
    const form = await formOf(c);
    if (form instanceof Response) return form;
    await c.get("session").flush(); // deletes the record and the cookie
    return c.redirect("/", 303);
  });
  return app;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const sessions = createSessions<ShopSession>({
    backend: memoryBackend(), // or databaseBackend({ url: "sqlite:sessions.sqlite3" }) from "tessera-sessions/backends/db"
    cookie: { secure: false }, // plain http on localhost: a Secure cookie would never be sent back
    secret: shopSecret(),
  });
  serveOnLoopback("Hono shop", getRequestListener(createShop(sessions).fetch), 3002, () => sessions.close());
}
