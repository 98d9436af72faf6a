/** cacheBackend on a real redis-server (started per file; see test/servers/redis.ts). */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "redis";
import { generateKey, hashKey } from "tessera-sessions";
import { cacheBackend } from "tessera-sessions/backends/cache";
import { cacheServerTests } from "./cache-server.shared.js";
import { findBinary } from "../servers/daemon.js";
import { startRedis } from "../servers/redis.js";

cacheServerTests({
  name: "redis",
  userIndex: true,
  listing: true,
  start: (port) => startRedis(port === undefined ? {} : { port }),
  async inspect(server) {
    const client = createClient({ url: server.url });
    await client.connect();
    return {
      async keys() {
        const found: string[] = [];
        for await (const batch of client.scanIterator({ COUNT: 1000 })) found.push(...batch);
        return found;
      },
      get: (id) => client.get(id),
      ttl: (id) => client.ttl(id),
      set: async (id, value, ttl) => void (await client.set(id, value, { EX: ttl })),
      close: () => client.close(),
    };
  },
  async client(server) {
    const client = createClient({ url: server.url });
    await client.connect();
    return { client, isOpen: () => client.isOpen, close: () => client.close() };
  },
});

describe("cacheBackend user index on redis", () => {
  let server: Awaited<ReturnType<typeof startRedis>>;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("indexes record ids (never keys) in a per-user set that expires with its sessions, and follows rebinding", async () => {
    const prefix = "ux:";
    const backend = cacheBackend({ url: server.url, prefix });
    const raw = createClient({ url: server.url });
    await raw.connect();
    try {
      const key = generateKey();
      const id = hashKey(key);
      const now = Date.now();
      await backend.create(key, { data: "{}", expiresAt: now + 600_000, userId: "42", now });
      expect(await raw.sMembers("ux:user:42")).toEqual([id]);
      const ttl = await raw.ttl("ux:user:42");
      expect(ttl).toBeGreaterThan(590);
      expect(ttl).toBeLessThanOrEqual(600);
      await backend.update(key, { data: "{}", expiresAt: now + 600_000, userId: "7", now }, 1);
      expect(await raw.sMembers("ux:user:42")).toEqual([]);
      expect(await raw.sMembers("ux:user:7")).toEqual([id]);
      await backend.delete(key);
      expect(await raw.sMembers("ux:user:7")).toEqual([]);
      await backend.deleteById?.("../not-an-id");
      expect(await raw.dbSize()).toBe(0);
    } finally {
      await raw.close();
      await backend.close?.();
    }
  });
});

describe("test servers", () => {
  it("name the Debian package to install when the binary is missing", () => {
    expect(() => findBinary("tessera-no-such-server", "some-package")).toThrow(
      "tessera-no-such-server was not found on PATH. Install it with: apt-get install some-package",
    );
  });

  it("fail on a port another server holds, rather than mistake that server for theirs", async () => {
    const first = await startRedis();
    try {
      await expect(startRedis({ port: first.port })).rejects.toThrow(/Redis exited during start-up/);
    } finally {
      await first.stop();
    }
  });

  it("take a Redis Cluster client as a cluster store (tested on a real cluster in test/scale/redis-cluster.test.ts)", () => {
    expect(cacheBackend({ client: { masters: [], sendCommand() {} } }).name).toBe("redis-cluster");
    expect(() => cacheBackend({ url: "redis+cluster://" })).toThrow(/at least one node in a redis\+cluster:\/\/ url/);
  });
});
