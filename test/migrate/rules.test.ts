/**
 * The rules of `migrateFrom`, each over real HTTP with a real express-session app writing the
 * sessions (on express-session's own MemoryStore, whose reads and deletes are counted): laziness,
 * logout, 5xx, unknown and expired ids, a shared cookie name, an old store that is down, the
 * configuration checks, and every adapter sending the old cookie's removal.
 */
import { createServer } from "node:http";
import { getRequestListener } from "@hono/node-server";
import connectPgSimple from "connect-pg-simple";
import Fastify from "fastify";
import { Hono } from "hono";
import Koa from "koa";
import session from "express-session";
import { afterEach, describe, expect, it } from "vitest";
import { BackendError, ConfigurationError, createSessions, type Sessions, type SessionsOptions } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { signedCookieBackend } from "tessera-sessions/backends/signed-cookies";
import { withSession } from "tessera-sessions/fetch";
import { tesseraSessions } from "tessera-sessions/fastify";
import { sessionMiddleware as honoSessions } from "tessera-sessions/hono";
import { sessionMiddleware as koaSessions } from "tessera-sessions/koa";
import { withSession as withNodeSession } from "tessera-sessions/node";
import { fromExpressSession, fromFastifySession } from "tessera-sessions/migrate";
import { recordingLogger } from "../helpers.js";
import { freePort } from "../servers/util.js";
import { listenOn } from "../adapters/adapter.suite.js";
import { Browser, clearing, expressSessionApp, me, running, serve, stopAll, tesseraApp } from "./harness.js";

const OLD_SECRET = "the express-session secret of the old app";
const TESSERA_SECRET = "tessera-secret-0123456789abcdefghijklmnop";

/** express-session's MemoryStore, counting the reads and deletes Tessera makes. */
class CountingStore extends session.MemoryStore {
  reads = 0;
  deletes = 0;
  override get(sid: string, callback: (error: unknown, session?: session.SessionData | null) => void): void {
    this.reads++;
    super.get(sid, callback);
  }
  override destroy(sid: string, callback?: (error?: unknown) => void): void {
    this.deletes++;
    super.destroy(sid, callback);
  }
  has(sid: string): Promise<boolean> {
    return new Promise((resolve) => super.get(sid, (_error, found) => resolve(found !== null && found !== undefined)));
  }
}

afterEach(stopAll);

/** A user logged in on the old app: the browser with its cookie, the store, the session id. */
async function loggedIn(options: { name?: string } = {}) {
  const store = new CountingStore();
  const oldUrl = await serve(expressSessionApp(store, { secret: OLD_SECRET, ...options }));
  const browser = new Browser();
  await browser.request(`${oldUrl}/login`, "POST");
  const sid = (await browser.request(`${oldUrl}/sid`)).body;
  store.reads = 0;
  return { store, browser, sid, oldUrl };
}

function migrating(store: session.Store, options: Partial<SessionsOptions> = {}) {
  const logger = recordingLogger();
  const sessions = createSessions({
    backend: memoryBackend(),
    secret: TESSERA_SECRET,
    logger,
    migrateFrom: fromExpressSession({ secret: OLD_SECRET, store }),
    ...options,
  });
  return { sessions, logger };
}

describe("when migrateFrom reads the old store", () => {
  it("never for a request without the old cookie, nor for one that does not touch its session", async () => {
    const { store, browser, sid } = await loggedIn();
    const { sessions } = migrating(store);
    const url = await serve(tesseraApp(sessions));

    const stranger = await new Browser().request(`${url}/me`);
    expect(me(stranger)).toEqual({ key: null, data: {} });
    const untouched = await browser.request(`${url}/untouched`);
    expect(untouched.setCookies).toEqual([]);
    expect(store.reads).toBe(0);
    expect(await store.has(sid)).toBe(true);

    // The first request that uses the session moves it: one read, one delete.
    const moved = await browser.request(`${url}/me`);
    expect(me(moved).data).toEqual({ user: "ada", cart: [1, 2] });
    expect([store.reads, store.deletes]).toEqual([1, 1]);
  });

  it("never while the request has a live Tessera session, even if the old cookie is still sent", async () => {
    const { store, browser, oldUrl } = await loggedIn();
    const { sessions } = migrating(store, { backend: memoryBackend() });
    const url = await serve(tesseraApp(sessions));
    await browser.request(`${url}/me`); // moved
    // The old app, still running, logs the user in again: now both cookies come along.
    await browser.request(`${oldUrl}/login`, "POST");
    store.reads = 0;
    const answer = await browser.request(`${url}/me`);
    expect(me(answer).data).toEqual({ user: "ada", cart: [1, 2] });
    expect(answer.setCookies).toEqual([]);
    expect(store.reads).toBe(0);
  });

  it("also when the request's Tessera cookie leads nowhere (an expired or deleted Tessera session)", async () => {
    const { store, browser } = await loggedIn();
    const { sessions } = migrating(store);
    const url = await serve(tesseraApp(sessions));
    browser.cookies.set("sessionid", "abcdefghijklmnopqrstuvwxyz012345");
    const answer = await browser.request(`${url}/me`);
    expect(me(answer).data).toEqual({ user: "ada", cart: [1, 2] });
    expect(browser.cookies.get("sessionid")).not.toBe("abcdefghijklmnopqrstuvwxyz012345");
    expect(me(await browser.request(`${url}/me`)).data).toEqual({ user: "ada", cart: [1, 2] });
  });

  it("malformed old cookies are an empty session, never an error", async () => {
    const { store } = await loggedIn();
    const { sessions, logger } = migrating(store);
    const url = await serve(tesseraApp(sessions));
    for (const value of ["s:", "s:.", "s:abc", "s%3A.sig", "s:id.", "s:id.%E0%A4%A", "s:" + "x".repeat(3000) + ".sig", "not-signed.at-all"]) {
      const browser = new Browser();
      browser.cookies.set("connect.sid", value);
      const answer = await browser.request(`${url}/me`);
      expect([value, answer.status, me(answer)]).toEqual([value, 200, { key: null, data: {} }]);
    }
    expect(store.reads).toBe(0);
    expect(logger.warnings.length).toBeGreaterThan(0);
  });

  it("a 5xx response moves nothing: the old session stays for the next request", async () => {
    const { store, browser, sid } = await loggedIn();
    const { sessions } = migrating(store);
    const url = await serve(tesseraApp(sessions));

    const failed = await browser.request(`${url}/boom`);
    expect(failed.status).toBe(500);
    expect(failed.setCookies).toEqual([]);
    expect(await store.has(sid)).toBe(true);
    const retried = await browser.request(`${url}/me`);
    expect(me(retried).data).toEqual({ user: "ada", cart: [1, 2] });
    expect(await store.has(sid)).toBe(false);
  });

  it("a logout (flush) before anything was loaded ends the old session too, so it cannot come back", async () => {
    const { store, browser, sid } = await loggedIn();
    const keepOld = createSessions({
      backend: memoryBackend(),
      logger: recordingLogger(),
      migrateFrom: fromExpressSession({ secret: OLD_SECRET, store, deleteOld: false }),
    });
    const url = await serve(tesseraApp(keepOld));
    const oldCookie = browser.cookies.get("connect.sid") ?? "";

    const bye = await browser.request(`${url}/logout`);
    expect(bye.setCookies).toEqual([clearing("connect.sid")]);
    // Deleted even with deleteOld: false: a user who signs out is signed out of both apps.
    expect(await store.has(sid)).toBe(false);
    expect(store.reads).toBe(0);
    const replay = new Browser();
    replay.cookies.set("connect.sid", oldCookie);
    expect(me(await replay.request(`${url}/me`))).toEqual({ key: null, data: {} });
  });

  it("a logout after the move ends the old session and the new one", async () => {
    const { store, browser, sid } = await loggedIn();
    const { sessions } = migrating(store, { migrateFrom: fromExpressSession({ secret: OLD_SECRET, store, deleteOld: false }) });
    const app = tesseraApp(sessions);
    app.get("/read-then-logout", async (req, res) => {
      expect(await req.session.get("user")).toBe("ada");
      await req.session.flush();
      res.type("text/plain").send("bye");
    });
    const url = await serve(app);
    const bye = await browser.request(`${url}/read-then-logout`);
    expect(bye.setCookies).toEqual([clearing("connect.sid")]);
    expect(await store.has(sid)).toBe(false);
    expect(browser.cookies.size).toBe(0);
  });

  it("a validly signed id the old store does not know moves nothing, warns nothing, and clears the old cookie", async () => {
    const { store, browser, oldUrl } = await loggedIn();
    // The old app's own logout would leave such a cookie behind; here the record is simply gone.
    const sid = (await browser.request(`${oldUrl}/sid`)).body;
    await new Promise<void>((resolve) => store.destroy(sid, () => resolve()));
    const { sessions, logger } = migrating(store);
    const url = await serve(tesseraApp(sessions));
    const answer = await browser.request(`${url}/me`);
    expect(me(answer)).toEqual({ key: null, data: {} });
    expect(answer.setCookies).toEqual([clearing("connect.sid")]);
    expect(logger.warnings).toEqual([]);
  });

  it("an old session whose cookie expired by Tessera's clock is not moved", async () => {
    const { store, browser, sid } = await loggedIn();
    // The old app gave the session an hour; Tessera's clock is two hours on.
    const { sessions } = migrating(store, { clock: () => Date.now() + 7_200_000 });
    const url = await serve(tesseraApp(sessions));
    expect(me(await browser.request(`${url}/me`))).toEqual({ key: null, data: {} });
    expect(store.reads).toBe(1);
    expect(store.deletes).toBe(0);
    expect(await store.has(sid)).toBe(true);
  });

  it("under a shared cookie name, Tessera's new cookie replaces the old one in place, with no warning", async () => {
    const { store, browser } = await loggedIn({ name: "sid" });
    const { sessions, logger } = migrating(store, {
      cookie: { name: "sid" },
      migrateFrom: fromExpressSession({ secret: OLD_SECRET, store, cookieName: "sid" }),
    });
    const url = await serve(tesseraApp(sessions));
    const first = await browser.request(`${url}/me`);
    expect(me(first).data).toEqual({ user: "ada", cart: [1, 2] });
    expect(first.setCookies).toHaveLength(1);
    expect(first.setCookies[0]).toMatch(/^sid=[a-z0-9]{32}; Max-Age=1209600; Path=\/; /);
    expect(logger.warnings).toEqual([]);
    const second = await browser.request(`${url}/me`);
    expect(me(second)).toEqual({ key: browser.cookies.get("sid"), data: { user: "ada", cart: [1, 2] } });
    expect(second.setCookies).toEqual([]);
  });

  it("under a shared cookie name, a bad old cookie is replaced by a new session's cookie, not cleared after it", async () => {
    const { store, browser } = await loggedIn({ name: "sid" });
    const { sessions } = migrating(store, {
      cookie: { name: "sid" },
      migrateFrom: fromExpressSession({ secret: "not the old secret", store, cookieName: "sid" }),
    });
    const app = tesseraApp(sessions);
    app.get("/login", async (req, res) => {
      await req.session.set("user", "new login");
      res.type("text/plain").send("ok");
    });
    const url = await serve(app);
    const answer = await browser.request(`${url}/login`);
    expect(answer.setCookies).toHaveLength(1);
    expect(answer.setCookies[0]).toMatch(/^sid=[a-z0-9]{32}; /);
    expect(me(await browser.request(`${url}/me`)).data).toEqual({ user: "new login" });
  });

  it("an old store that is down is a BackendError (503), and the old cookie stays for a later try", async () => {
    const PgStore = connectPgSimple(session);
    const down = new PgStore({ conString: `postgres://postgres@127.0.0.1:${await freePort()}/gone`, pruneSessionInterval: false });
    const { browser } = await loggedIn();
    const { sessions } = migrating(down, { backendTimeoutMs: 2000 });
    const app = tesseraApp(sessions);
    const errors: unknown[] = [];
    app.use((error: unknown, _req: unknown, res: { status(code: number): { send(body: string): void } }, _next: unknown) => {
      errors.push(error);
      res.status((error as { status?: number }).status ?? 500).send("store down");
    });
    const url = await serve(app);
    const answer = await browser.request(`${url}/me`);
    expect(answer.status).toBe(503);
    expect(answer.setCookies).toEqual([]);
    expect(errors[0]).toBeInstanceOf(BackendError);
    expect((errors[0] as BackendError).backend).toBe("express-session store");
    expect(browser.cookies.has("connect.sid")).toBe(true);
    down.close();
  });
});

describe("migrateFrom's configuration checks", () => {
  const store = new session.MemoryStore();
  it("fails at startup, saying what to pass", () => {
    expect(() => createSessions({ backend: memoryBackend(), migrateFrom: { cookieName: "connect.sid" } as never })).toThrow(
      new ConfigurationError(
        'migrateFrom must come from fromExpressSession({ secret, store }) or fromFastifySession({ secret, store }), imported from "tessera-sessions/migrate".',
      ),
    );
    expect(() => fromExpressSession({ secret: OLD_SECRET, store: {} as never })).toThrow(
      /^\[tessera\] fromExpressSession: store must be the store express-session used/,
    );
    expect(() => fromExpressSession({ secret: [], store })).toThrow(
      /fromExpressSession: secret must be the secret \(or the list of secrets\) express-session was given/,
    );
    expect(() => fromFastifySession({ secret: OLD_SECRET, store, deleteOld: "no" as never })).toThrow(
      "[tessera] fromFastifySession: deleteOld must be true or false.",
    );
    expect(() => createSessions({ backend: memoryBackend(), migrate: true } as never)).toThrow(/Unknown option migrate: did you mean migrateFrom\?/);
  });

  it("refuses a shared cookie name that could not replace the old cookie", () => {
    expect(() =>
      createSessions({
        backend: signedCookieBackend(),
        secret: TESSERA_SECRET,
        cookie: { name: "connect.sid" },
        migrateFrom: fromExpressSession({ secret: OLD_SECRET, store }),
      }),
    ).toThrow(/both named "connect.sid", which needs a server-side backend/);
    expect(() =>
      createSessions({
        backend: memoryBackend(),
        cookie: { name: "connect.sid", path: "/app" },
        migrateFrom: fromExpressSession({ secret: OLD_SECRET, store }),
      }),
    ).toThrow(/both named "connect.sid" but differ in path or domain/);
  });
});

describe("every adapter sends the old cookie's removal with the moved session", () => {
  /** Each adapter's app with one route, GET /me, answering the session's data as JSON. */
  const adapters: Record<string, (sessions: Sessions) => Promise<string>> = {
    fastify: async (sessions) => {
      const app = Fastify();
      await app.register(tesseraSessions, { sessions });
      app.get("/me", async (request) => ({ key: null, data: Object.fromEntries(await request.session.items()) }));
      const url = await app.listen({ host: "127.0.0.1", port: 0 });
      running.push({ url, close: () => app.close() });
      return url;
    },
    koa: async (sessions) => {
      const app = new Koa();
      app.use(koaSessions(sessions));
      app.use(async (ctx) => {
        const data = Object.fromEntries(await ctx.session.items());
        // A 4xx error still commits the session, through Koa's error headers.
        if (ctx.path === "/me-forbidden") ctx.throw(403, "no");
        ctx.body = { key: null, data };
      });
      app.silent = true;
      const server = await listenOn(createServer(app.callback()));
      running.push(server);
      return server.url;
    },
    hono: async (sessions) => {
      const app = new Hono();
      app.use(honoSessions(sessions));
      app.get("/me", async (c) => c.json({ key: null, data: Object.fromEntries(await c.var.session.items()) }));
      const server = await listenOn(createServer(getRequestListener(app.fetch)));
      running.push(server);
      return server.url;
    },
    node: async (sessions) => {
      const listener = withNodeSession(sessions, async (req, res) => {
        res.setHeader("Content-Type", "application/json");
        res.end(JSON.stringify({ key: null, data: Object.fromEntries(await req.session.items()) }));
      });
      const server = await listenOn(createServer(listener));
      running.push(server);
      return server.url;
    },
    fetch: async (sessions) => {
      const handler = (request: Request) =>
        withSession(sessions, request, async (s) => Response.json({ key: null, data: Object.fromEntries(await s.items()) }));
      const server = await listenOn(createServer(getRequestListener(handler)));
      running.push(server);
      return server.url;
    },
  };

  for (const [name, start] of Object.entries(adapters)) {
    it(name, async () => {
      const { store, browser, sid } = await loggedIn();
      const url = await start(migrating(store).sessions);
      const first = await browser.request(`${url}/me`);
      expect(me(first).data).toEqual({ user: "ada", cart: [1, 2] });
      expect(first.setCookies).toHaveLength(2);
      expect(first.setCookies[0]).toMatch(/^sessionid=[a-z0-9]{32}; /);
      expect(first.setCookies[1]).toBe(clearing("connect.sid"));
      expect(await store.has(sid)).toBe(false);
      expect(me(await browser.request(`${url}/me`)).data).toEqual({ user: "ada", cart: [1, 2] });
    });
  }

  it("koa, on a 4xx error response", async () => {
    const { store, browser } = await loggedIn();
    const url = await (adapters["koa"] as (s: Sessions) => Promise<string>)(migrating(store).sessions);
    const forbidden = await browser.request(`${url}/me-forbidden`);
    expect(forbidden.status).toBe(403);
    expect(forbidden.setCookies).toHaveLength(2);
    expect(forbidden.setCookies[1]).toBe(clearing("connect.sid"));
  });
});
