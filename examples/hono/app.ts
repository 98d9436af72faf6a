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
import { sessionMiddleware } from "tessera-sessions/hono";
import { readForm, serveOnLoopback } from "../shared/http.js";
import { shopPage as page, type ShopSession } from "../shared/shop.js";

export type { ShopSession };

type ShopEnv = { Variables: { session: Session<ShopSession> } };

/** Builds the app. Typing `Variables` makes `c.get("session")` a `Session<ShopSession>`. */
export function createShop(sessions: Sessions<ShopSession>): Hono<ShopEnv> {
  const app = new Hono<ShopEnv>();
  app.use(sessionMiddleware(sessions));
  app.get("/", async (c) => {
    const session = c.get("session");
    return c.html(page(await session.get("username"), await session.get("cart", [])));
  });
  app.post("/login", async (c) => {
    const form = await formOf(c);
    if (form instanceof Response) return form;
    await c.get("session").cycleKey(); // a new key at login, so a key planted before it is worthless
    await c.get("session").set("username", form.get("username") || "guest");
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
    await c.get("session").flush(); // deletes the record and the cookie
    return c.redirect("/", 303);
  });
  return app;
}

/** The request's form, or the 413/415 answer for a body that is not a small form. */
async function formOf(c: Context<ShopEnv>): Promise<URLSearchParams | Response> {
  const form = await readForm(c.req.header("content-type"), c.req.raw.body);
  return form instanceof URLSearchParams ? form : c.text(form.message, form.status);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const sessions = createSessions<ShopSession>({
    backend: memoryBackend(), // or databaseBackend({ url: "sqlite:sessions.sqlite3" }) from "tessera-sessions/backends/db"
    cookie: { secure: false }, // plain http on localhost: a Secure cookie would never be sent back
  });
  serveOnLoopback("Hono shop", getRequestListener(createShop(sessions).fetch), 3002, () => sessions.close());
}
