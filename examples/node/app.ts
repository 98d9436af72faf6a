/**
 * The shop demo on plain node:http, no framework: log in (the session key is cycled), fill a
 * cart that survives requests and the login, log out (the session is flushed).
 * @module
 */
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import { pathToFileURL } from "node:url";
import { createSessions, type Session, type Sessions } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { createCsrf } from "tessera-sessions/csrf";
import { withSession } from "tessera-sessions/node";
import { readForm, serveOnLoopback } from "../shared/http.js";
import { FORGED_FORM, shopPage, shopSecret, type ShopSession } from "../shared/shop.js";

export type { ShopSession };

/** Builds the request listener; the session is typed by `sessions`. */
export function createShop(sessions: Sessions<ShopSession>): RequestListener {
  const csrf = createCsrf(sessions); // every form carries a token; every POST must return it
  return withSession(sessions, async (req, res) => {
    const { session } = req;
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (req.method === "GET" && path === "/") {
      const { token, setCookie } = await csrf.issue(req.headers.cookie, session);
      if (setCookie) res.appendHeader("Set-Cookie", setCookie);
      return send(res, 200, shopPage(await session.get("username"), await session.get("cart", []), token), "text/html; charset=utf-8");
    }
    if (req.method !== "POST" || !ACTIONS.has(path)) return send(res, 404, "Not Found");
    const form = await readForm(req.headers["content-type"], req);
    if (!(form instanceof URLSearchParams)) return send(res, form.status, form.message);
    if (!(await csrf.verify(req.headers.cookie, form.get(csrf.fieldName), session))) return send(res, 403, FORGED_FORM);
    await (ACTIONS.get(path) as Action)(session, form);
    res.writeHead(303, { Location: "/" }).end();
  });
}

type Action = (session: Session<ShopSession>, form: URLSearchParams) => Promise<unknown>;

const ACTIONS = new Map<string, Action>([
  [
    "/login",
    async (session, form) => {
      const username = form.get("username") || "guest";
      await session.cycleKey(); // a new key at login, so a key planted before it is worthless
      await session.set("username", username);
      await session.setUser(username); // also retires the CSRF tokens shown before the login
    },
  ],
  ["/cart", async (session, form) => session.set("cart", [...(await session.get("cart", [])), form.get("item") || "?"])],
  ["/logout", (session) => session.flush()], // deletes the record and the cookie
]);

function send(res: ServerResponse<IncomingMessage>, status: number, body: string, type = "text/plain; charset=utf-8"): void {
  res.writeHead(status, { "Content-Type": type }).end(body);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const sessions = createSessions<ShopSession>({
    backend: memoryBackend(), // or databaseBackend({ url: "sqlite:sessions.sqlite3" }) from "tessera-sessions/backends/db"
    cookie: { secure: false }, // plain http on localhost: a Secure cookie would never be sent back
    secret: shopSecret(),
  });
  serveOnLoopback("node:http shop", createShop(sessions), 3005, () => sessions.close());
}
