/**
 * The same switch from @fastify/session: a real Fastify app (@fastify/cookie + @fastify/session on
 * connect-redis, on a real Redis) logs a user in; the Tessera app, with
 * `migrateFrom: fromFastifySession(...)`, keeps the user logged in.
 */
import fastifyCookie from "@fastify/cookie";
import fastifySession from "@fastify/session";
import { RedisStore } from "connect-redis";
import Fastify from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSessions } from "tessera-sessions";
import { cacheBackend } from "tessera-sessions/backends/cache";
import { fromFastifySession } from "tessera-sessions/migrate";
import { recordingLogger } from "../helpers.js";
import { Browser, clearing, me, running, serve, stopAll, tesseraApp, useRedis } from "./harness.js";

const OLD_SECRET = "the @fastify/session secret, 32 characters or more";
const TESSERA_SECRET = "tessera-secret-0123456789abcdefghijklmnop";

/** A Fastify app on @fastify/session: POST /login stores a user; GET /sid tells the session id. */
async function fastifySessionApp(store: RedisStore, options: { cookiePrefix?: string } = {}): Promise<string> {
  const app = Fastify();
  await app.register(fastifyCookie);
  await app.register(fastifySession, { secret: OLD_SECRET, store, saveUninitialized: false, cookie: { secure: false, maxAge: 3_600_000 }, ...options });
  app.post("/login", async (request) => {
    // With Tessera's Fastify types loaded, `request.session` is typed as Tessera's.
    const old = request.session as unknown as { set(key: string, value: unknown): void };
    old.set("user", "grace");
    old.set("roles", ["admin"]);
    return "logged in";
  });
  app.get("/sid", async (request) => (request.session as unknown as { sessionId: string }).sessionId);
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  running.push({ url, close: () => app.close() });
  return url;
}

afterEach(stopAll);

describe("@fastify/session + connect-redis, switched to Tessera", () => {
  const redisServer = useRedis();
  let redis: ReturnType<typeof useRedis>["client"];
  beforeEach(() => {
    redis = redisServer.client;
  });

  for (const cookiePrefix of ["", "p:"]) {
    it(`keeps the user logged in${cookiePrefix ? ` (cookiePrefix "${cookiePrefix}")` : ""}`, async () => {
      const store = new RedisStore({ client: redis, prefix: "fsess:" });
      const oldUrl = await fastifySessionApp(store, cookiePrefix ? { cookiePrefix } : {});
      const browser = new Browser();
      expect((await browser.request(`${oldUrl}/login`, "POST")).status).toBe(200);
      const sid = (await browser.request(`${oldUrl}/sid`)).body;
      expect(decodeURIComponent(browser.cookies.get("sessionId") ?? "")).toMatch(new RegExp(`^${cookiePrefix}${sid}\\.[A-Za-z0-9+/]+$`));
      expect(JSON.parse((await redis.get(`fsess:${sid}`)) ?? "{}")).toMatchObject({ user: "grace", cookie: {} });

      const logger = recordingLogger();
      const sessions = createSessions({
        backend: cacheBackend({ client: redis, prefix: "tessera:" }),
        secret: TESSERA_SECRET,
        logger,
        migrateFrom: fromFastifySession({ secret: [OLD_SECRET], store, ...(cookiePrefix ? { cookiePrefix } : {}) }),
      });
      const url = await serve(tesseraApp(sessions));
      const first = await browser.request(`${url}/me`);
      expect(me(first).data).toEqual({ user: "grace", roles: ["admin"] });
      expect(first.setCookies[1]).toBe(clearing("sessionId"));
      expect(await redis.get(`fsess:${sid}`)).toBeNull();
      expect(logger.warnings).toEqual([]);

      const second = await browser.request(`${url}/me`);
      expect(me(second)).toEqual({ key: browser.cookies.get("sessionid"), data: { user: "grace", roles: ["admin"] } });
      expect(second.setCookies).toEqual([]);
    });
  }

  it("a cookie signed with another secret moves nothing", async () => {
    const store = new RedisStore({ client: redis, prefix: "fsess:" });
    const oldUrl = await fastifySessionApp(store);
    const browser = new Browser();
    await browser.request(`${oldUrl}/login`, "POST");
    const logger = recordingLogger();
    const sessions = createSessions({
      backend: cacheBackend({ client: redis, prefix: "tessera:" }),
      logger,
      migrateFrom: fromFastifySession({ secret: "not the secret that signed these cookies", store }),
    });
    const url = await serve(tesseraApp(sessions));
    expect(me(await browser.request(`${url}/me`))).toEqual({ key: null, data: {} });
    expect(logger.warnings).toEqual([expect.stringContaining("Ignored the @fastify/session cookie: it failed verification")]);
  });
});
