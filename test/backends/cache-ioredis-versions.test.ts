/**
 * The older major of the `ioredis` peer range (`^5 || ^6`): the backend suite through an ioredis 5
 * client, installed from the registry into a temporary directory (the repo's dev dependency,
 * ioredis 6, is what cache-ioredis.test.ts and the Cluster and Sentinel suites use), on a plain
 * Redis and on a 3-primary Cluster. The majors differ in their error classes: ioredis 5's
 * NOSCRIPT is a `ReplyError`, which the cluster store must pass through for its EVAL fallback.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { cacheBackend } from "tessera-sessions/backends/cache";
import { runBackendSuite } from "tessera-sessions/testing";
import { installPeers, type PeerInstall } from "../peer-install.js";
import { startRedis, type RedisServer } from "../servers/redis.js";
import { startRedisCluster, type RedisClusterServer } from "../servers/redis-cluster.js";
import { CACHE_SERVER_SKIPS } from "./cache-server.shared.js";

// Installing from the registry takes seconds on a warm npm cache, longer on a cold one.
vi.setConfig({ hookTimeout: 180_000 });

interface Ioredis {
  readonly status: string;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  once(event: string, listener: (...args: unknown[]) => void): unknown;
  call(command: string, ...args: string[]): Promise<unknown>;
  disconnect(): void;
}
interface IoredisModule {
  Redis: new (url: string) => Ioredis;
  Cluster: new (nodes: { host: string; port: number }[]) => Ioredis;
}

let prefixes = 0;

describe("cacheBackend({ client }) with ioredis 5", () => {
  let peers: PeerInstall;
  let server: RedisServer;
  let cluster: RedisClusterServer;
  let client: Ioredis;
  let clusterClient: Ioredis;
  const ready = async (c: Ioredis) => {
    c.on("error", () => {});
    if (c.status !== "ready") await new Promise((resolve) => c.once("ready", resolve));
    return c;
  };
  beforeAll(async () => {
    [peers, server, cluster] = await Promise.all([installPeers(["ioredis@5"]), startRedis(), startRedisCluster()]);
    const { Redis, Cluster } = await peers.load<IoredisModule>("ioredis");
    client = await ready(new Redis(server.url));
    clusterClient = await ready(new Cluster(cluster.ports.map((port) => ({ host: "127.0.0.1", port }))));
  });
  afterAll(async () => {
    client?.disconnect();
    clusterClient?.disconnect();
    await Promise.all([server?.stop(), cluster?.stop()]);
    peers?.remove();
  });

  it("is the major asked for", () => {
    expect(Number(peers.version("ioredis").split(".")[0])).toBe(5);
  });

  runBackendSuite({
    name: "cache (ioredis 5 client)",
    // The app's client is shared; a fresh prefix keeps each test's records apart.
    create: () => cacheBackend({ client, prefix: `io5-${++prefixes}:` }),
    userIndex: true,
    listing: true,
    skip: CACHE_SERVER_SKIPS,
    describe,
    it,
  });

  runBackendSuite({
    name: "cache (ioredis 5 Cluster client)",
    create: () => cacheBackend({ client: clusterClient, prefix: `io5c-${++prefixes}:` }),
    userIndex: true,
    listing: true,
    skip: CACHE_SERVER_SKIPS,
    describe,
    it,
  });

  it("leaves the app's clients open after close() (the app opened them)", async () => {
    for (const [given, name] of [
      [client, "redis"],
      [clusterClient, "redis-cluster"],
    ] as const) {
      const backend = cacheBackend({ client: given, prefix: "io5-close:" });
      expect(backend.name).toBe(name);
      expect(await backend.exists("k".repeat(32))).toBe(false);
      await backend.close?.();
      expect(given.status).toBe("ready");
      expect(await given.call("GET", "io5-close:x")).toBeNull();
    }
  });
});
