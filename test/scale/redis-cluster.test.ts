/**
 * cacheBackend on a real 3-primary Redis Cluster (test/servers/redis-cluster.ts): the backend
 * conformance suite (user index and admin listing included) through a `redis+cluster://` URL and
 * through an ioredis `Cluster` client, an existing `createCluster()` client, and a primary that
 * crashes and comes back (under both clients at once).
 *
 * The test cluster has no replicas, so nothing can take over a dead primary's slots: while it is
 * down, sessions on its slots fail with a clear error (after the backend's timeout) and sessions
 * on the other primaries keep working (`cluster-require-full-coverage no`); when it is back, its
 * slots serve again, but it has lost its sessions (no persistence). With replicas, Redis promotes
 * one after `cluster-node-timeout` and node-redis follows the new slot map (not tested here).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCluster } from "redis";
import { Cluster } from "ioredis";
import { BackendError, createSessions, generateKey, hashKey } from "tessera-sessions";
import { cacheBackend } from "tessera-sessions/backends/cache";
import { runBackendSuite } from "tessera-sessions/testing";
import { startRedisCluster, type RedisClusterServer } from "../servers/redis-cluster.js";
import { CACHE_SERVER_SKIPS } from "../backends/cache-server.shared.js";

let cluster: RedisClusterServer;
/** The app's ioredis cluster client, shared by the backends of the ioredis suite. */
let ioCluster: Cluster;
beforeAll(async () => {
  cluster = await startRedisCluster();
  ioCluster = ioredisCluster();
  await new Promise((resolve) => ioCluster.once("ready", resolve));
}, 60_000);
afterAll(async () => {
  ioCluster?.disconnect();
  await cluster?.stop();
}, 30_000);

/** An ioredis cluster client on the test cluster, as an app makes one (its errors are its own to log). */
function ioredisCluster(): Cluster {
  const client = new Cluster(cluster.ports.map((port) => ({ host: "127.0.0.1", port })));
  client.on("error", () => {});
  return client;
}

let suiteRun = 0;
runBackendSuite({
  name: "cacheBackend on a 3-primary Redis Cluster (redis+cluster://)",
  // A fresh prefix per test: an empty store as far as the backend can see (listings SCAN by prefix).
  create: () => cacheBackend({ url: cluster.url, prefix: `suite${++suiteRun}:` }),
  userIndex: true,
  listing: true,
  skip: CACHE_SERVER_SKIPS,
  describe,
  it,
});

runBackendSuite({
  name: "cacheBackend on a 3-primary Redis Cluster (an ioredis Cluster client)",
  create: () => cacheBackend({ client: ioCluster, prefix: `io-suite${++suiteRun}:` }),
  userIndex: true,
  listing: true,
  skip: CACHE_SERVER_SKIPS,
  describe,
  it,
});

describe("cacheBackend on Redis Cluster", () => {
  it("spreads records over the three primaries and indexes a user's sessions on another slot", async () => {
    const backend = cacheBackend({ url: cluster.url, prefix: "spread:" });
    try {
      const now = Date.now();
      const keys = Array.from({ length: 30 }, () => generateKey());
      for (const key of keys) await backend.create(key, { data: "{}", expiresAt: now + 600_000, userId: "u1", now });
      const nodes = new Set(keys.map((key) => cluster.nodeOf(`spread:${hashKey(key)}`)));
      expect(nodes.size).toBe(3);
      const listed = await backend.listByUser?.("u1", now);
      expect(listed?.map((s) => s.id).sort()).toEqual(keys.map(hashKey).sort());
      expect(await backend.deleteByUser?.("u1", hashKey(keys[0] as string))).toBe(29);
      expect((await backend.listByUser?.("u1", now))?.map((s) => s.id)).toEqual([hashKey(keys[0] as string)]);
    } finally {
      await backend.close?.();
    }
  });

  it("the user index tolerates what an interrupted write leaves: an entry with no record, an entry for a rebound record", async () => {
    const backend = cacheBackend({ url: cluster.url, prefix: "partial:" });
    const raw = createCluster({ rootNodes: [{ url: `redis://127.0.0.1:${cluster.ports[0]}` }] });
    await raw.connect();
    try {
      const now = Date.now();
      // A process died after indexing a new session but before writing its record.
      const never = hashKey(generateKey());
      await raw.zAdd("partial:users:u7", { score: Math.floor(now / 1000) + 600, value: never });
      // A process died after rebinding a record to u8 but before removing it from u7's index.
      const rebound = generateKey();
      await backend.create(rebound, { data: "{}", expiresAt: now + 600_000, userId: "u8", now });
      await raw.zAdd("partial:users:u7", { score: Math.floor(now / 1000) + 600, value: hashKey(rebound) });
      const kept = generateKey();
      await backend.create(kept, { data: "{}", expiresAt: now + 600_000, userId: "u7", now });

      expect((await backend.listByUser?.("u7", now))?.map((s) => s.id)).toEqual([hashKey(kept)]);
      expect(await backend.deleteByUser?.("u7", undefined)).toBe(1); // only u7's own session
      expect(await backend.exists(rebound)).toBe(true);
      expect(await backend.exists(kept)).toBe(false);
      expect((await backend.listByUser?.("u8", now))?.map((s) => s.id)).toEqual([hashKey(rebound)]);
    } finally {
      await raw.close();
      await backend.close?.();
    }
  });

  it("concurrent creates, rebindings and deletes from four clients: every user's listing is exactly its sessions", async () => {
    // Four backends (four connections, as four app processes) writing at once.
    const backends = Array.from({ length: 4 }, () => cacheBackend({ url: cluster.url, prefix: "race:" }));
    try {
      const now = Date.now();
      const users = ["a", "b", "c"];
      const owner = new Map<string, string | null>();
      const keys = Array.from({ length: 40 }, () => generateKey());
      const write = (userId: string | null) => ({ data: "{}", expiresAt: now + 600_000, userId, now });
      await Promise.all(
        keys.map((key, i) =>
          (backends[i % 4] as (typeof backends)[number]).create(key, write(users[i % 3] as string)).then(() => owner.set(key, users[i % 3] as string)),
        ),
      );
      for (let round = 1; round <= 3; round++) {
        await Promise.all(
          keys.map(async (key, i) => {
            const backend = backends[(i + round) % 4] as (typeof backends)[number];
            const record = await backend.load(key, now);
            if (record === null) return;
            if ((i + round) % 7 === 0) {
              await backend.delete(key);
              owner.delete(key);
            } else {
              const next = (i * round) % 4 === 3 ? null : (users[(i + round) % 3] as string);
              await backend.update(key, write(next), record.version);
              owner.set(key, next);
            }
          }),
        );
      }
      for (const user of users) {
        const expected = keys
          .filter((key) => owner.get(key) === user)
          .map(hashKey)
          .sort();
        expect((await backends[0]?.listByUser?.(user, now))?.map((s) => s.id).sort(), user).toEqual(expected);
      }
      const ended = await backends[1]?.deleteByUser?.("a", undefined);
      expect(ended).toBe(keys.filter((key) => owner.get(key) === "a").length);
      for (const key of keys) expect(await backends[2]?.exists(key)).toBe(owner.has(key) && owner.get(key) !== "a");
    } finally {
      await Promise.all(backends.map((b) => b.close?.()));
    }
  });

  it("takes an existing createCluster() client and leaves it open", async () => {
    const client = createCluster({ rootNodes: cluster.ports.map((port) => ({ url: `redis://127.0.0.1:${port}` })) });
    await client.connect();
    try {
      const sessions = createSessions({ backend: cacheBackend({ client, prefix: "given:" }) });
      const session = sessions.open();
      await session.set("where", "cluster");
      await sessions.commit(session, 200);
      expect(await sessions.open(session.sessionKey as string).get("where")).toBe("cluster");
      await sessions.close();
      expect(client.isOpen).toBe(true);
    } finally {
      await client.close();
    }
  });

  it("takes an existing ioredis Cluster client and leaves it open", async () => {
    const client = ioredisCluster();
    try {
      const backend = cacheBackend({ client, prefix: "io-given:" });
      expect(backend.name).toBe("redis-cluster");
      const sessions = createSessions({ backend });
      const session = sessions.open();
      await session.set("where", "ioredis cluster");
      await sessions.commit(session, 200);
      expect(await sessions.open(session.sessionKey as string).get("where")).toBe("ioredis cluster");
      await sessions.close();
      expect(client.status).toBe("ready");
      expect(await client.get("io-given:nothing")).toBeNull();
    } finally {
      client.disconnect();
    }
  });

  it("a crashed primary (no replica): its sessions fail with a clear error, the others work, and it serves again once back (node-redis and ioredis)", async () => {
    const client = ioredisCluster();
    const stores = [
      { via: "redis+cluster:// url", prefix: "crash:", backend: cacheBackend({ url: cluster.url, prefix: "crash:", timeout: 500 }) },
      { via: "ioredis Cluster client", prefix: "iocrash:", backend: cacheBackend({ client, prefix: "iocrash:", timeout: 500 }) },
    ];
    try {
      const now = Date.now();
      const victim = 1;
      const placed = [];
      for (const { via, prefix, backend } of stores) {
        const keys = Array.from({ length: 30 }, () => generateKey());
        for (const key of keys) await backend.create(key, { data: `{"k":"${key}"}`, expiresAt: now + 600_000, userId: null, now });
        const onVictim = keys.filter((key) => cluster.nodeOf(`${prefix}${hashKey(key)}`) === cluster.ports[victim]);
        const elsewhere = keys.filter((key) => !onVictim.includes(key));
        expect(onVictim.length, via).toBeGreaterThan(0);
        expect(elsewhere.length, via).toBeGreaterThan(0);
        placed.push({ via, prefix, backend, onVictim, elsewhere });
      }

      await cluster.killNode(victim);
      for (const { via, prefix, backend, onVictim, elsewhere } of placed) {
        // The first command may meet the dropped connection, later ones the timeout while it reconnects.
        const clear = new RegExp(`^the Redis Cluster node holding ${prefix}[0-9a-f]{64} (is unreachable|did not answer within 500 ms)`);
        for (const key of onVictim.slice(0, 3)) {
          const started = Date.now();
          await expect(backend.load(key, now), via).rejects.toThrow(clear);
          expect(Date.now() - started, via).toBeLessThan(2500);
        }
        for (const key of elsewhere) expect((await backend.load(key, now))?.data, via).toBe(`{"k":"${key}"}`);
        // Through the app: a BackendError (503 in the adapters) that names the store and the node.
        const sessions = createSessions({ backend, clock: () => now, logger: { warn() {}, error() {} } });
        const failure = await sessions
          .open(onVictim[0] as string)
          .get("k")
          .catch((error: unknown) => error);
        expect(failure, via).toBeInstanceOf(BackendError);
        expect((failure as BackendError).status, via).toBe(503);
        expect((failure as Error).message, via).toMatch(
          new RegExp(`^\\[tessera\\] \\[redis-cluster\\] could not load the session: the Redis Cluster node holding ${prefix}`),
        );
      }

      await cluster.restartNode(victim);
      for (const { via, backend, onVictim, elsewhere } of placed) {
        // The slots serve again (the client reconnects by itself); the node came back empty.
        const deadline = Date.now() + 20_000;
        let back: unknown;
        while (Date.now() < deadline) {
          back = await backend.load(onVictim[0] as string, now).then(
            (r) => r,
            (error: unknown) => error,
          );
          if (!(back instanceof Error)) break;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        expect(back, via).toBeNull();
        const fresh = generateKey();
        await backend.create(fresh, { data: "{}", expiresAt: now + 600_000, userId: null, now });
        expect(await backend.exists(fresh), via).toBe(true);
        for (const key of elsewhere) expect(await backend.exists(key), via).toBe(true);
      }
    } finally {
      await Promise.all(stores.map(({ backend }) => backend.close?.()));
      client.disconnect();
    }
  }, 90_000);
});
