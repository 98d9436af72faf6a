/**
 * cacheBackend on real Redis Sentinel (test/servers/redis-sentinel.ts: a primary, a replica and
 * three sentinels): the backend conformance suite through a `redis+sentinel://` URL and through
 * an ioredis client with `sentinels` + `name`, an existing `createSentinel()` client, and a
 * failover (node-redis and ioredis backends at once): the primary is killed, requests fail with a
 * clear BackendError (503) instead of hanging, the sentinels promote the replica, and the same
 * backend object reads the sessions written before (replicated: WAIT 1) and writes new ones.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, createSentinel } from "redis";
import { Redis } from "ioredis";
import { BackendError, createSessions, generateKey } from "tessera-sessions";
import { cacheBackend } from "tessera-sessions/backends/cache";
import { runBackendSuite } from "tessera-sessions/testing";
import { startRedisSentinel, type RedisSentinelServer } from "../servers/redis-sentinel.js";
import { CACHE_SERVER_SKIPS } from "../backends/cache-server.shared.js";

let sentinel: RedisSentinelServer;
/** The app's ioredis Sentinel client, shared by the backends of the ioredis suite. */
let ioSentinel: Redis;
beforeAll(async () => {
  sentinel = await startRedisSentinel();
  ioSentinel = ioredisSentinel();
  await new Promise((resolve) => ioSentinel.once("ready", resolve));
}, 60_000);
afterAll(async () => {
  ioSentinel?.disconnect();
  await sentinel?.stop();
}, 30_000);

/** An ioredis client that finds the primary through the test sentinels, as an app makes one. */
function ioredisSentinel(): Redis {
  const client = new Redis({ sentinels: sentinel.sentinelPorts.map((port) => ({ host: "127.0.0.1", port })), name: sentinel.name });
  client.on("error", () => {});
  return client;
}

let suiteRun = 0;
runBackendSuite({
  name: "cacheBackend on Redis Sentinel (redis+sentinel://)",
  create: () => cacheBackend({ url: sentinel.url, prefix: `suite${++suiteRun}:` }),
  userIndex: true,
  listing: true,
  skip: CACHE_SERVER_SKIPS,
  describe,
  it,
});

runBackendSuite({
  name: "cacheBackend on Redis Sentinel (an ioredis client with sentinels + name)",
  create: () => cacheBackend({ client: ioSentinel, prefix: `io-suite${++suiteRun}:` }),
  userIndex: true,
  listing: true,
  skip: CACHE_SERVER_SKIPS,
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

  it("takes an existing ioredis Sentinel client and leaves it open", async () => {
    const client = ioredisSentinel();
    try {
      const backend = cacheBackend({ client, prefix: "io-given:" });
      expect(backend.name).toBe("redis-sentinel");
      const sessions = createSessions({ backend });
      const session = sessions.open();
      await session.set("where", "ioredis sentinel");
      await sessions.commit(session, 200);
      expect(await sessions.open(session.sessionKey as string).get("where")).toBe("ioredis sentinel");
      await sessions.close();
      expect(client.status).toBe("ready");
      expect(await client.ping()).toBe("PONG");
    } finally {
      client.disconnect();
    }
  });

  // Runs last: it kills the primary (once, under a node-redis and an ioredis backend at once).
  it("a killed primary: clear 503s while the sentinels fail over, then the same backend reads the sessions and writes again (node-redis and ioredis)", async () => {
    const client = ioredisSentinel();
    const stores = [
      { via: "redis+sentinel:// url", backend: cacheBackend({ url: sentinel.url, prefix: "failover:", timeout: 500 }) },
      { via: "ioredis Sentinel client", backend: cacheBackend({ client, prefix: "io-failover:", timeout: 500 }) },
    ];
    try {
      const now = Date.now();
      const written = [];
      for (const { via, backend } of stores) {
        const keys = Array.from({ length: 20 }, () => generateKey());
        for (const key of keys) await backend.create(key, { data: `{"k":"${key}"}`, expiresAt: now + 600_000, userId: "u1", now });
        written.push({ via, backend, keys });
      }
      // Make sure the replica has every write before the crash (asynchronous replication otherwise may lose the last ones).
      const old = sentinel.primaryPort();
      const plain = createClient({ url: `redis://127.0.0.1:${old}` });
      await plain.connect();
      expect(Number(await plain.sendCommand(["WAIT", "1", "5000"]))).toBe(1);
      await plain.close();

      const started = Date.now();
      await sentinel.killPrimary();
      // While no primary answers: a BackendError (503) within the timeout, not a hang.
      for (const { via, backend, keys } of written) {
        const sessions = createSessions({ backend, clock: () => now, logger: { warn() {}, error() {} } });
        const t0 = Date.now();
        const failure = await sessions
          .open(keys[0] as string)
          .get("k")
          .catch((error: unknown) => error);
        expect(Date.now() - t0, via).toBeLessThan(3000);
        expect(failure, via).toBeInstanceOf(BackendError);
        expect((failure as BackendError).status, via).toBe(503);
        expect((failure as Error).message, via).toMatch(/^\[tessera\] \[redis-sentinel\] could not load the session: /);
      }

      const promoted = await sentinel.waitForFailover(old, 20_000);
      expect(promoted).not.toBe(old);
      for (const { via, backend, keys } of written) {
        // The same backend object follows the new primary (its client hears it from the sentinels).
        const deadline = Date.now() + 15_000;
        let back: unknown;
        while (Date.now() < deadline) {
          back = await backend.load(keys[0] as string, now).then(
            (r) => r,
            (error: unknown) => error,
          );
          if (!(back instanceof Error)) break;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        expect(back, via).not.toBeInstanceOf(Error);
        for (const key of keys) expect((await backend.load(key, now))?.data, via).toBe(`{"k":"${key}"}`);
        expect((await backend.listByUser?.("u1", now))?.length, via).toBe(keys.length);
        const fresh = generateKey();
        await backend.create(fresh, { data: "{}", expiresAt: now + 600_000, userId: "u1", now });
        expect(await backend.exists(fresh), via).toBe(true);
        const record = await backend.load(keys[1] as string, now);
        await backend.update(keys[1] as string, { data: '{"k":"changed"}', expiresAt: now + 600_000, userId: "u1", now }, record?.version as number);
        expect((await backend.load(keys[1] as string, now))?.data, via).toBe('{"k":"changed"}');
      }
      expect(Date.now() - started).toBeLessThan(40_000);
    } finally {
      await Promise.all(stores.map(({ backend }) => backend.close?.()));
      client.disconnect();
    }
  }, 90_000);
});
