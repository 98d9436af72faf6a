/**
 * cacheBackend({ client }) with an ioredis client on a real redis-server: the whole cache-server
 * suite (conformance, what is stored, atomicity, a stopped and a hung server) with every backend
 * made on its own `new Redis(url)`, plus what only ioredis has (its detection, options Tessera
 * cannot work under, a lazyConnect client, a client the app has quit). Cluster and Sentinel
 * through ioredis: test/scale/redis-cluster.test.ts and test/scale/redis-sentinel.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cluster, Redis } from "ioredis";
import { BackendError, ConfigurationError, createSessions, generateKey, hashKey } from "tessera-sessions";
import { cacheBackend } from "tessera-sessions/backends/cache";
import { cacheServerTests } from "./cache-server.shared.js";
import { startRedis, type RedisServer } from "../servers/redis.js";

/** An app's ioredis client: it logs its own errors (here: none, the outage tests provoke them). */
function appClient(url: string, options: { lazyConnect?: boolean } = {}): Redis {
  const client = new Redis(url, options);
  client.on("error", () => {});
  return client;
}

async function ready(client: Redis): Promise<Redis> {
  if (client.status !== "ready")
    await new Promise<void>((resolve, reject) => client.once("ready", resolve).once("end", () => reject(new Error("ioredis client ended"))));
  return client;
}

cacheServerTests({
  name: "redis through ioredis",
  backendName: "redis",
  userIndex: true,
  listing: true,
  start: (port) => startRedis(port === undefined ? {} : { port }),
  backend(server, options) {
    const client = appClient(server.url);
    const backend = cacheBackend({ client, ...options });
    expect(backend.name).toBe("redis");
    // The client is the app's: Tessera's close() leaves it open, so the app disconnects it after.
    return {
      ...backend,
      async close() {
        await backend.close?.();
        client.disconnect();
      },
    };
  },
  async inspect(server) {
    const client = await ready(appClient(server.url));
    return {
      async keys() {
        const found: string[] = [];
        let cursor = "0";
        do {
          const [next, keys] = await client.scan(cursor, "COUNT", 1000);
          cursor = next;
          found.push(...keys);
        } while (cursor !== "0");
        return found;
      },
      get: (id) => client.get(id),
      ttl: (id) => client.ttl(id),
      set: async (id, value, ttl) => void (await client.set(id, value, "EX", ttl)),
      close: async () => void (await client.quit()),
    };
  },
  async client(server) {
    const client = await ready(appClient(server.url));
    return { client, isOpen: () => client.status === "ready", close: async () => void (await client.quit()) };
  },
});

describe("cacheBackend with an ioredis client", () => {
  let server: RedisServer;
  let client: Redis;
  beforeAll(async () => {
    server = await startRedis();
    client = await ready(appClient(server.url));
  });
  afterAll(async () => {
    await client?.quit();
    await server?.stop();
  });

  it("is told apart by its shape: a plain client, a cluster client and a Sentinel client, none of them connected by Tessera", () => {
    const cluster = new Cluster([{ host: "127.0.0.1", port: server.port }], { lazyConnect: true });
    const sentinel = new Redis({ sentinels: [{ host: "127.0.0.1", port: server.port }], name: "mymaster", lazyConnect: true });
    try {
      expect(cacheBackend({ client }).name).toBe("redis");
      expect(cacheBackend({ client: cluster }).name).toBe("redis-cluster");
      expect(cacheBackend({ client: sentinel }).name).toBe("redis-sentinel");
      // Detection alone sends nothing: the lazy clients are still waiting for their first command.
      expect([cluster.status, sentinel.status]).toEqual(["wait", "wait"]);
    } finally {
      cluster.disconnect();
      sentinel.disconnect();
    }
  });

  it("refuses, at startup, a client with keyPrefix (its scripts and SCAN would miss it) and a Sentinel client on a replica", () => {
    const prefixed = new Redis(server.url, { keyPrefix: "app:", lazyConnect: true });
    const prefixedCluster = new Cluster([{ host: "127.0.0.1", port: server.port }], { lazyConnect: true, redisOptions: { keyPrefix: "app:" } });
    const replica = new Redis({ sentinels: [{ host: "127.0.0.1", port: server.port }], name: "mymaster", role: "slave", lazyConnect: true });
    try {
      for (const given of [prefixed, prefixedCluster]) {
        expect(() => cacheBackend({ client: given })).toThrow(ConfigurationError);
        expect(() => cacheBackend({ client: given })).toThrow(
          "cacheBackend cannot use an ioredis client with keyPrefix (its scripts and SCAN would not see the prefix): pass a client without keyPrefix and set cacheBackend's prefix option instead.",
        );
      }
      expect(() => cacheBackend({ client: replica })).toThrow(
        'cacheBackend needs the Sentinel primary, but this ioredis client has role: "slave" (read-only): pass a client with the default role: "master".',
      );
      expect(() => cacheBackend({ client: { call() {}, status: "ready" } })).toThrow(
        /an ioredis client \(new Redis\(\), new Redis\.Cluster\(\) or new Redis\(\{ sentinels, name \}\)\)/,
      );
    } finally {
      prefixed.disconnect();
      prefixedCluster.disconnect();
      replica.disconnect();
    }
  });

  it("runs its scripts again after SCRIPT FLUSH (EVALSHA's NOSCRIPT falls back to EVAL)", async () => {
    const backend = cacheBackend({ client, prefix: "flush:" });
    const key = generateKey();
    const now = Date.now();
    await backend.create(key, { data: '{"a":1}', expiresAt: now + 60_000, userId: "u1", now });
    expect(await client.script("FLUSH")).toBe("OK");
    await backend.update(key, { data: '{"a":2}', expiresAt: now + 60_000, userId: "u2", now }, 1);
    expect(await client.smembers("flush:user:u1")).toEqual([]);
    expect(await client.smembers("flush:user:u2")).toEqual([hashKey(key)]);
    expect((await backend.load(key, now))?.data).toBe('{"a":2}');
    await backend.close?.();
  });

  it("a lazyConnect client is connected by ioredis on the first command, and stays the app's after close()", async () => {
    const lazy = appClient(server.url, { lazyConnect: true });
    try {
      const backend = cacheBackend({ client: lazy, prefix: "lazy:" });
      expect(lazy.status).toBe("wait");
      const key = generateKey();
      const now = Date.now();
      await backend.create(key, { data: "{}", expiresAt: now + 60_000, userId: null, now });
      expect(await backend.exists(key)).toBe(true);
      await backend.close?.();
      expect(lazy.status).toBe("ready");
      expect(await lazy.ping()).toBe("PONG");
    } finally {
      lazy.disconnect();
    }
  });

  it("a client the app has quit is a 503 BackendError at once, not a hang", async () => {
    const quit = await ready(appClient(server.url));
    await quit.quit();
    const sessions = createSessions({ backend: cacheBackend({ client: quit, timeout: 500 }), logger: { warn() {}, error() {} } });
    const started = Date.now();
    const failure = await sessions
      .open(generateKey())
      .get("a")
      .catch((error: unknown) => error);
    expect(Date.now() - started).toBeLessThan(500);
    expect(failure).toBeInstanceOf(BackendError);
    expect(failure).toMatchObject({ status: 503, backend: "redis" });
    expect((failure as Error).message).toBe("[tessera] [redis] could not load the session: Connection is closed.");
    await sessions.close();
  });
});
