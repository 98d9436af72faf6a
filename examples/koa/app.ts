/**
 * The shop demo on Koa: log in (the session key is cycled), fill a cart that survives requests
 * and the login, log out (the session is flushed).
 * @module
 */
import { pathToFileURL } from "node:url";
import Koa from "koa";
import { createSessions, type Session, type Sessions } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { createCsrf } from "tessera-sessions/csrf";
import { sessionMiddleware } from "tessera-sessions/koa";
import { readForm, serveOnLoopback } from "../shared/http.js";
import { FORGED_FORM, shopPage as page, shopSecret, type ShopSession } from "../shared/shop.js";

export type { ShopSession };

/** Builds the app. Typing the context makes `ctx.session` a `Session<ShopSession>`. */
export function createShop(sessions: Sessions<ShopSession>): Koa<Koa.DefaultState, { session: Session<ShopSession> }> {
  const app = new Koa<Koa.DefaultState, { session: Session<ShopSession> }>();
  const csrf = createCsrf(sessions); // every form carries a token; every POST must return it
  app.use(sessionMiddleware(sessions));
  app.use(async (ctx) => {
    const { session } = ctx;
    if (ctx.method === "GET" && ctx.path === "/") {
      const { token, setCookie } = await csrf.issue(ctx.headers.cookie, session);
      if (setCookie) ctx.append("Set-Cookie", setCookie);
      ctx.type = "html";
      ctx.body = page(await session.get("username"), await session.get("cart", []), token);
      return;
    }
    if (ctx.method !== "POST") return; // Koa answers 404
    const form = await readForm(ctx.get("content-type"), ctx.req);
    if (!(form instanceof URLSearchParams)) {
      ctx.status = form.status;
      ctx.body = form.message;
      return;
    }
    if (!(await csrf.verify(ctx.headers.cookie, form.get(csrf.fieldName), session))) {
      ctx.status = 403;
      ctx.body = FORGED_FORM;
      return;
    }
    if (ctx.path === "/login") {
      const username = form.get("username") || "guest";
      await session.cycleKey(); // a new key at login, so a key planted before it is worthless
      await session.set("username", username);
      await session.setUser(username); // also retires the CSRF tokens shown before the login
    } else if (ctx.path === "/cart") {
      await session.set("cart", [...(await session.get("cart", [])), form.get("item") || "?"]);
    } else if (ctx.path === "/logout") {
      await session.flush(); // deletes the record and the cookie
    } else return;
    ctx.status = 303;
    ctx.redirect("/");
  });
  return app;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const sessions = createSessions<ShopSession>({
    backend: memoryBackend(), // or databaseBackend({ url: "sqlite:sessions.sqlite3" }) from "tessera-sessions/backends/db"
    cookie: { secure: false }, // plain http on localhost: a Secure cookie would never be sent back
    secret: shopSecret(),
  });
  serveOnLoopback("Koa shop", createShop(sessions).callback(), 3001, () => sessions.close());
}
