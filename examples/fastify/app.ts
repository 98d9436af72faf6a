/**
 * The shop demo on Fastify: log in (the session key is cycled), fill a cart that survives
 * requests and the login, log out (the session is flushed).
 * @module
 */
import { pathToFileURL } from "node:url";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { createSessions, type Session, type Sessions } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { createCsrf } from "tessera-sessions/csrf";
import { tesseraSessions } from "tessera-sessions/fastify";
import { MAX_FORM_BYTES, readForm, serveOnLoopback } from "../shared/http.js";
import { FORGED_FORM, shopPage, shopSecret, type ShopSession } from "../shared/shop.js";

export type { ShopSession };

/** Builds the app (registered, not yet listening). */
export async function createShop(sessions: Sessions<ShopSession>): Promise<FastifyInstance> {
  const app = Fastify({ bodyLimit: MAX_FORM_BYTES });
  // Fastify parses only JSON by itself; the shop takes its forms as a raw stream and reads them
  // with the shared helper (415 for anything but a small urlencoded form).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", (_request, payload, done) => done(null, payload));
  await app.register(tesseraSessions, { sessions });

  // sessions.of(request) is typed by this app's own shape (no app-wide declaration needed).
  const session = (request: FastifyRequest): Session<ShopSession> => sessions.of(request);
  const csrf = createCsrf(sessions); // every form carries a token; every POST must return it
  /** The request's form, or undefined once answered: 413/415 for a body that is not a small form, 403 without a valid CSRF token. */
  const form = async (request: FastifyRequest, reply: FastifyReply) => {
    const fields = await readForm(request.headers["content-type"], (request.body ?? null) as AsyncIterable<Uint8Array> | null);
    if (!(fields instanceof URLSearchParams)) {
      await reply.code(fields.status).type("text/plain").send(fields.message);
      return undefined;
    }
    if (await csrf.verify(request.headers.cookie, fields.get(csrf.fieldName), session(request))) return fields;
    await reply.code(403).type("text/plain").send(FORGED_FORM);
    return undefined;
  };

  app.get("/", async (request, reply) => {
    const current = session(request);
    const { token, setCookie } = await csrf.issue(request.headers.cookie, current);
    if (setCookie) void reply.header("Set-Cookie", setCookie);
    return reply.type("text/html; charset=utf-8").send(shopPage(await current.get("username"), await current.get("cart", []), token));
  });
  app.post("/login", async (request, reply) => {
    const fields = await form(request, reply);
    if (!fields) return reply;
    const username = fields.get("username") || "guest";
    await session(request).cycleKey(); // a new key at login, so a key planted before it is worthless
    await session(request).set("username", username);
    await session(request).setUser(username); // also retires the CSRF tokens shown before the login
    return reply.redirect("/", 303);
  });
  app.post("/cart", async (request, reply) => {
    const fields = await form(request, reply);
    if (!fields) return reply;
    const current = session(request);
    await current.set("cart", [...(await current.get("cart", [])), fields.get("item") || "?"]);
    return reply.redirect("/", 303);
  });
  app.post("/logout", async (request, reply) => {
    if (!(await form(request, reply))) return reply;
    await session(request).flush(); // deletes the record and the cookie
    return reply.redirect("/", 303);
  });
  return app;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const sessions = createSessions<ShopSession>({
    backend: memoryBackend(), // or databaseBackend({ url: "sqlite:sessions.sqlite3" }) from "tessera-sessions/backends/db"
    cookie: { secure: false }, // plain http on localhost: a Secure cookie would never be sent back
    secret: shopSecret(),
  });
  const app = await createShop(sessions);
  await app.ready();
  serveOnLoopback(
    "Fastify shop",
    (req, res) => app.routing(req, res),
    3004,
    async () => {
      await app.close();
      await sessions.close();
    },
  );
}
