/**
 * The oldest and the middle majors of the `redis` peer range (`^4 || ^5 || ^6`): the backend
 * suite through a client made by node-redis 4 and by node-redis 5, each installed from the
 * registry into a temporary directory (the repo's dev dependency, redis 6, is what
 * cache-redis.test.ts uses). Both the client detection and the reply decoding differ by major.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { cacheBackend } from "tessera-sessions/backends/cache";
import { runBackendSuite } from "tessera-sessions/testing";
import { installPeers, type PeerInstall } from "../peer-install.js";
import { startRedis, type RedisServer } from "../servers/redis.js";
import { CACHE_SERVER_SKIPS } from "./cache-server.shared.js";

// Installing from the registry takes seconds on a warm npm cache, longer on a cold one.
vi.setConfig({ hookTimeout: 180_000 });

interface NodeRedisClient {
  connect(): Promise<unknown>;
  quit(): Promise<unknown>;
  sendCommand(args: string[]): Promise<unknown>;
}

let prefixes = 0;

for (const major of [4, 5]) {
  describe(`cacheBackend({ client }) with node-redis ${major}`, () => {
    let peers: PeerInstall;
    let server: RedisServer;
    let client: NodeRedisClient;
    beforeAll(async () => {
      [peers, server] = await Promise.all([installPeers([`redis@${major}`]), startRedis()]);
      const { createClient } = await peers.load<{ createClient(options: { url: string }): NodeRedisClient }>("redis");
      client = createClient({ url: server.url });
      await client.connect();
    });
    afterAll(async () => {
      await client?.quit();
      await server?.stop();
      peers?.remove();
    });

    it(`is the major asked for`, () => {
      expect(Number(peers.version("redis").split(".")[0])).toBe(major);
    });

    runBackendSuite({
      name: `cache (node-redis ${major} client)`,
      // The app's client is shared; a fresh prefix keeps each test's records apart.
      create: () => cacheBackend({ client, prefix: `v${major}-${++prefixes}:` }),
      userIndex: true,
      listing: true,
      skip: CACHE_SERVER_SKIPS,
      describe,
      it,
    });

    it("leaves the app's client open after close() (the app opened it)", async () => {
      const backend = cacheBackend({ client, prefix: `v${major}-close:` });
      expect(backend.name).toBe("redis");
      expect(await backend.exists("k".repeat(32))).toBe(false);
      await backend.close?.();
      expect(await client.sendCommand(["PING"])).toBe("PONG");
    });
  });
}
