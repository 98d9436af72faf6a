/**
 * Issue 17's "done when": a real express-session app on connect-redis (and one on
 * connect-pg-simple) logs a user in over HTTP; the app is switched to Tessera with
 * `migrateFrom: fromExpressSession(...)`, and the user stays logged in.
 */
import connectPgSimple from "connect-pg-simple";
import { RedisStore } from "connect-redis";
import session from "express-session";
import pg from "pg";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createSessions } from "tessera-sessions";
import { cacheBackend } from "tessera-sessions/backends/cache";
import { databaseBackend } from "tessera-sessions/backends/db";
import { fromExpressSession } from "tessera-sessions/migrate";
import { recordingLogger } from "../helpers.js";
import { startPostgres, testPgPool, type RestartableServer } from "../servers/postgres.js";
import { Browser, clearing, expressSessionApp, me, serve, stopAll, tesseraApp, useRedis } from "./harness.js";

const OLD_SECRET = "the express-session secret of the old app";
const TESSERA_SECRET = "tessera-secret-0123456789abcdefghijklmnop";

afterEach(stopAll);

describe("express-session + connect-redis, switched to Tessera on the same Redis", () => {
  const redisServer = useRedis();
  let redis: ReturnType<typeof useRedis>["client"];
  beforeEach(() => {
    redis = redisServer.client;
  });

  /** A user logs in on the old app; returns the browser holding its cookie and the session id. */
  async function loggedInOnOldApp(store: RedisStore): Promise<{ browser: Browser; sid: string; oldUrl: string }> {
    const oldUrl = await serve(expressSessionApp(store, { secret: OLD_SECRET }));
    const browser = new Browser();
    expect((await browser.request(`${oldUrl}/login`, "POST")).status).toBe(200);
    expect(browser.cookies.get("connect.sid")).toMatch(/^s%3A[\w-]+\.[\w%]+$/);
    const sid = (await browser.request(`${oldUrl}/sid`)).body;
    expect(JSON.parse((await redis.get(`sess:${sid}`)) ?? "{}")).toMatchObject({ user: "ada", cart: [1, 2], cookie: { path: "/" } });
    return { browser, sid, oldUrl };
  }

  function tessera(store: RedisStore, options: { deleteOld?: boolean } = {}) {
    const logger = recordingLogger();
    const sessions = createSessions({
      backend: cacheBackend({ client: redis, prefix: "tessera:" }),
      secret: TESSERA_SECRET,
      logger,
      migrateFrom: fromExpressSession({ secret: OLD_SECRET, store, ...options }),
    });
    return { sessions, logger };
  }

  it("keeps the user logged in: the first request moves the session under a Tessera key, clears the old cookie and deletes the old record", async () => {
    const store = new RedisStore({ client: redis });
    const { browser, sid } = await loggedInOnOldApp(store);
    const { sessions, logger } = tessera(store);
    const url = await serve(tesseraApp(sessions));

    const first = await browser.request(`${url}/me`);
    expect(first.status).toBe(200);
    // The app's data, and not express-session's `cookie` field; the key comes with the save at the end.
    expect(me(first)).toEqual({ key: null, data: { user: "ada", cart: [1, 2] } });
    expect(first.setCookies).toHaveLength(2);
    const key = browser.cookies.get("sessionid") ?? "";
    expect(key).toMatch(/^[a-z0-9]{32}$/);
    expect(first.setCookies[0]).toMatch(new RegExp(`^sessionid=${key}; Max-Age=1209600; Path=/; Expires=[^;]+; HttpOnly; Secure; SameSite=Lax$`));
    expect(first.setCookies[1]).toBe(clearing("connect.sid"));
    expect(await redis.get(`sess:${sid}`)).toBeNull();
    expect([...browser.cookies.keys()]).toEqual(["sessionid"]);
    expect(logger.warnings).toEqual([]);

    // The second request is an ordinary Tessera request.
    const second = await browser.request(`${url}/me`);
    expect(me(second)).toEqual({ key, data: { user: "ada", cart: [1, 2] } });
    expect(second.setCookies).toEqual([]);
    // The new record is Tessera's own, under its hashed key, on the same Redis.
    expect(await sessions.open(key).get("user")).toBe("ada");
    expect(await redis.keys("tessera:*")).toHaveLength(1);
  });

  it("deleteOld: false leaves the old record, so the old app (still running) keeps the user logged in too", async () => {
    const store = new RedisStore({ client: redis });
    const { browser, sid, oldUrl } = await loggedInOnOldApp(store);
    const oldCookie = browser.cookies.get("connect.sid") ?? "";
    const { sessions } = tessera(store, { deleteOld: false });
    const url = await serve(tesseraApp(sessions));

    const first = await browser.request(`${url}/me`);
    expect(me(first).data).toEqual({ user: "ada", cart: [1, 2] });
    expect(first.setCookies[1]).toBe(clearing("connect.sid"));
    expect(JSON.parse((await redis.get(`sess:${sid}`)) ?? "null")).toMatchObject({ user: "ada" });

    const onOldApp = new Browser();
    onOldApp.cookies.set("connect.sid", oldCookie);
    expect(JSON.parse((await onOldApp.request(`${oldUrl}/whoami`)).body)).toEqual({ user: "ada" });
  });

  it("an old store that hangs fails the request after backendTimeoutMs with a 503, and the old cookie stays for a later try", async () => {
    const store = new RedisStore({ client: redis });
    const { browser, sid } = await loggedInOnOldApp(store);
    const sessions = createSessions({
      backend: cacheBackend({ client: redis, prefix: "tessera:" }),
      logger: recordingLogger(),
      backendTimeoutMs: 300,
      migrateFrom: fromExpressSession({ secret: OLD_SECRET, store }),
    });
    const app = tesseraApp(sessions);
    const errors: unknown[] = [];
    app.use((error: unknown, _req: unknown, res: { status(code: number): { send(body: string): void } }, _next: unknown) => {
      errors.push(error);
      res.status((error as { status?: number }).status ?? 500).send("store down");
    });
    const url = await serve(app);
    redisServer.server.pause();
    let answer;
    try {
      answer = await browser.request(`${url}/me`);
    } finally {
      redisServer.server.resume();
    }
    expect(answer.status).toBe(503);
    expect(answer.setCookies).toEqual([]);
    expect(String(errors[0])).toBe(
      "BackendError: [tessera] [express-session store] could not read the old session: no answer within 300 ms (backendTimeoutMs). The store may be down or overloaded.",
    );
    // Redis answers again: the next request moves the session.
    expect(me(await browser.request(`${url}/me`)).data).toEqual({ user: "ada", cart: [1, 2] });
    expect(await redis.get(`sess:${sid}`)).toBeNull();
  });

  it("a tampered cookie, or one signed with a secret Tessera was not given, moves nothing: an empty session, a warning, the old record untouched", async () => {
    const store = new RedisStore({ client: redis });
    const { browser, sid } = await loggedInOnOldApp(store);
    const signed = browser.cookies.get("connect.sid") ?? "";
    const { sessions, logger } = tessera(store);
    const url = await serve(tesseraApp(sessions));

    // The id changed, the signature kept: what an attacker trying another user's id would send.
    const tampered = new Browser();
    tampered.cookies.set(
      "connect.sid",
      signed.replace(/^s%3A./, (prefix) => prefix.slice(0, -1) + (prefix.endsWith("A") ? "B" : "A")),
    );
    const answer = await tampered.request(`${url}/me`);
    expect(answer.status).toBe(200);
    expect(me(answer)).toEqual({ key: null, data: {} });
    // Cleared, so later requests do not check it again.
    expect(answer.setCookies).toEqual([clearing("connect.sid")]);
    expect(logger.warnings).toEqual([expect.stringContaining("Ignored the express-session cookie: it failed verification")]);

    const otherSecret = createSessions({
      backend: cacheBackend({ client: redis, prefix: "tessera:" }),
      logger,
      migrateFrom: fromExpressSession({ secret: "some other secret", store }),
    });
    const otherUrl = await serve(tesseraApp(otherSecret));
    const wrongSecret = new Browser();
    wrongSecret.cookies.set("connect.sid", signed);
    expect(me(await wrongSecret.request(`${otherUrl}/me`))).toEqual({ key: null, data: {} });
    expect(logger.warnings).toHaveLength(2);
    expect(await redis.get(`sess:${sid}`)).not.toBeNull();
  });
});

describe("express-session + connect-pg-simple, switched to Tessera on the same PostgreSQL", () => {
  let server: RestartableServer;
  let pool: pg.Pool;
  let endPool: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    server = await startPostgres("migrate_test");
    ({ pool, end: endPool } = testPgPool({ connectionString: server.url, max: 4 }));
  });
  afterAll(async () => {
    // Only once its connections are closed: pool.end() alone let the server's stop reach an idle one (an unhandled 57P01 in CI).
    await endPool?.();
    await server?.stop();
  });

  it("keeps the user logged in, reading and deleting the row in connect-pg-simple's table", async () => {
    const PgStore = connectPgSimple(session);
    const store = new PgStore({ pool, createTableIfMissing: true });
    const oldUrl = await serve(expressSessionApp(store, { secret: [OLD_SECRET] }));
    const browser = new Browser();
    await browser.request(`${oldUrl}/login`, "POST");
    const sid = (await browser.request(`${oldUrl}/sid`)).body;
    const row = await pool.query<{ sess: unknown }>("SELECT sess FROM session WHERE sid = $1", [sid]);
    expect(row.rows[0]?.sess).toMatchObject({ user: "ada", cart: [1, 2] });

    // Tessera's own table on the same database; the old secret is now an older one.
    const backend = databaseBackend({ url: server.url });
    const sessions = createSessions({
      backend,
      secret: TESSERA_SECRET,
      logger: recordingLogger(),
      migrateFrom: fromExpressSession({ secret: ["a newer express-session secret", OLD_SECRET], store }),
    });
    await sessions.migrate();
    const url = await serve(tesseraApp(sessions));

    const first = await browser.request(`${url}/me`);
    expect(me(first).data).toEqual({ user: "ada", cart: [1, 2] });
    expect(first.setCookies[1]).toBe(clearing("connect.sid"));
    expect((await pool.query("SELECT 1 FROM session WHERE sid = $1", [sid])).rowCount).toBe(0);

    const second = await browser.request(`${url}/me`);
    expect(me(second)).toEqual({ key: browser.cookies.get("sessionid"), data: { user: "ada", cart: [1, 2] } });
    expect(second.setCookies).toEqual([]);
    await sessions.close();
  });
});
