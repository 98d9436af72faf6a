/**
 * cacheBackend on real Redis Sentinel (test/servers/redis-sentinel.ts: a primary, a replica and
 * three sentinels): the backend conformance suite through a `redis+sentinel://` URL, an existing
 * `createSentinel()` client, and a failover: the primary is killed, requests fail with a clear
 * BackendError (503) instead of hanging, the sentinels promote the replica, and the same backend
 * object reads the sessions written before (replicated: WAIT 1) and writes new ones.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, createSentinel } from "redis";
import { BackendError, createSessions, generateKey } from "tessera-sessions";
import { cacheBackend } from "tessera-sessions/backends/cache";
import { runBackendSuite } from "tessera-sessions/testing";
import { startRedisSentinel, type RedisSentinelServer } from "../servers/redis-sentinel.js";

let sentinel: RedisSentinelServer;
beforeAll(async () => {
  sentinel = await startRedisSentinel();
}, 60_000);
afterAll(async () => {
  await sentinel?.stop();
}, 30_000);

let suiteRun = 0;
runBackendSuite({
  name: "cacheBackend on Redis Sentinel (redis+sentinel://)",
  create: () => cacheBackend({ url: sentinel.url, prefix: `suite${++suiteRun}:` }),
  userIndex: true,
  listing: true,
  skip: [{ reason: "a cache server's TTL reclaims expired sessions, so there is no clearExpired", tests: ["clearExpired deletes exactly the expired records and counts them"] }],
  describe,
  it,
});

describe("cacheBackend on Redis Sentinel", () => {
  it("rejects a redis+sentinel:// url without sentinels or the primary's name", () => {
    expect(() => cacheBackend({ url: "redis+sentinel://127.0.0.1:26379" })).toThrow(/primary's name/);
    expect(() => cacheBackend({ url: "redis+sentinel:///mymaster" })).toThrow(/primary's name/);
  });

  it("takes an existing createSentinel() client and leaves it open", async () => {
    const client = createSentinel({ name: sentinel.name, sentinelRootNodes: sentinel.sentinelPorts.map((port) => ({ host: "127.0.0.1", port })) });
    client.on("error", () => {});
    await client.connect();
    try {
      const backend = cacheBackend({ client, prefix: "given:" });
      expect(backend.name).toBe("redis-sentinel");
      const sessions = createSessions({ backend });
      const session = sessions.open();
      await session.set("where", "sentinel");
      await sessions.commit(session, 200);
      expect(await sessions.open(session.sessionKey as string).get("where")).toBe("sentinel");
      await sessions.close();
      expect(client.isOpen).toBe(true);
    } finally {
      await client.close();
    }
  });

  // Runs last: it kills the primary.
  it("a killed primary: clear 503s while the sentinels fail over, then the same backend reads the sessions and writes again", async () => {
    const backend = cacheBackend({ url: sentinel.url, prefix: "failover:", timeout: 500 });
    try {
      const now = Date.now();
      const keys = Array.from({ length: 20 }, () => generateKey());
      for (const key of keys) await backend.create(key, { data: `{"k":"${key}"}`, expiresAt: now + 600_000, userId: "u1", now });
      // Make sure the replica has every write before the crash (asynchronous replication otherwise may lose the last ones).
      const old = sentinel.primaryPort();
      const plain = createClient({ url: `redis://127.0.0.1:${old}` });
      await plain.connect();
      expect(Number(await plain.sendCommand(["WAIT", "1", "5000"]))).toBe(1);
      await plain.close();

      const started = Date.now();
      await sentinel.killPrimary();
      // While no primary answers: a BackendError (503) within the timeout, not a hang.
      const sessions = createSessions({ backend, clock: () => now, logger: { warn() {}, error() {} } });
      const t0 = Date.now();
      const failure = await sessions.open(keys[0] as string).get("k").catch((error: unknown) => error);
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(failure).toBeInstanceOf(BackendError);
      expect((failure as BackendError).status).toBe(503);
      expect((failure as Error).message).toMatch(/^\[tessera\] \[redis-sentinel\] could not load the session: /);

      const promoted = await sentinel.waitForFailover(old, 20_000);
      expect(promoted).not.toBe(old);
      // The same backend object follows the new primary (node-redis hears it from the sentinels).
      const deadline = Date.now() + 15_000;
      let back: unknown;
      while (Date.now() < deadline) {
        back = await backend.load(keys[0] as string, now).then((r) => r, (error: unknown) => error);
        if (!(back instanceof Error)) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(back).not.toBeInstanceOf(Error);
      for (const key of keys) expect((await backend.load(key, now))?.data).toBe(`{"k":"${key}"}`);
      expect((await backend.listByUser?.("u1", now))?.length).toBe(keys.length);
      const fresh = generateKey();
      await backend.create(fresh, { data: "{}", expiresAt: now + 600_000, userId: "u1", now });
      expect(await backend.exists(fresh)).toBe(true);
      const record = await backend.load(keys[1] as string, now);
      await backend.update(keys[1] as string, { data: '{"k":"changed"}', expiresAt: now + 600_000, userId: "u1", now }, record?.version as number);
      expect((await backend.load(keys[1] as string, now))?.data).toBe('{"k":"changed"}');
      expect(Date.now() - started).toBeLessThan(30_000);
    } finally {
      await backend.close?.();
    }
  }, 60_000);
});
