/**
 * `cacheBackend({ url })`: sessions in a cache server (Django's `cache` engine), on Redis or
 * Valkey (`redis://`, `rediss://`, through node-redis), memcached (`memcached://host:port`,
 * through memjs), or this process's memory (`memory:`).
 *
 * Each session is one value under `prefix + sha256(key)`: a JSON record holding the data, its
 * expiry, version, user id and timestamps. The store's TTL only reclaims space; the stored
 * `expiresAt`, checked against the app's clock on load, decides whether a session is alive.
 * Writes are atomic on both servers:
 * - Redis: create is `SET NX EX`; update is a Lua script that replaces the value only if it
 *   exists and still holds the expected version.
 * - memcached: create is `add`; update reads the value with its CAS token and replaces it with
 *   that token, so a concurrent write or delete in between makes the replace fail, not win.
 *   memjs 1.x has no CAS call, so these requests go through its public `perform()`.
 *
 * On Redis Cluster (`redis+cluster://` or a `createCluster()` client), every command and script
 * touches one key, and the user index is kept by ordering instead (see ./cache/redis-cluster.ts).
 * On Redis Sentinel (`redis+sentinel://` or a `createSentinel()` client), every command goes to
 * the current primary through node-redis's sentinel client, with the standalone Redis store.
 * An ioredis client (plain, cluster or Sentinel) is passed as `client` and goes through the same
 * stores (./cache/ioredis.ts).
 *
 * On Redis, each user's sessions are also indexed (a set of record ids per user id, kept by the
 * same scripts), so `listForUser` and `endAllForUser` work, and the admin listing reads the
 * records with SCAN (O(sessions) a page). memcached cannot list keys: it keeps the user index
 * as one compare-and-swapped value per user (./cache/memcached.ts) and has no admin listing.
 *
 * A cache may evict a live session under memory pressure (the user is signed out): size the
 * cache for it, or use `cachedDatabaseBackend`. There is no `clearExpired` on the servers: the
 * TTL reclaims expired sessions by itself.
 * @module
 */
import { ConfigurationError, CreateError, UpdateError, VersionConflictError } from "../errors.js";
import { hashKey, isSessionId } from "../keys.js";
import type { ServerBackend, SessionListPage, SessionListQuery, StoredSession } from "./base.js";
import { checkIoredisOptions, ioredisAsClient, ioredisClusterAsClient, isIoredisClient, isIoredisCluster, isIoredisSentinel } from "./cache/ioredis.js";
import { isMemjsClient, memcachedStore, openMemcached } from "./cache/memcached.js";
import { isRedisClient, openRedis, redisStore, type RedisLike } from "./cache/redis.js";
import { clusterRootUrls, isClusterClient, openRedisCluster, redisClusterStore } from "./cache/redis-cluster.js";
import { isSentinelClient, openRedisSentinel, parseSentinelUrl, sentinelAsClient } from "./cache/redis-sentinel.js";
import { ttlSeconds, type Store } from "./cache/store.js";
import { decodeRecord, encodeRecord } from "./record.js";
import { listFromRecords } from "./listing.js";
import { memoryBackend } from "./memory.js";
import { shownUrl } from "./peer.js";

/** Options of {@link cacheBackend}. */
export interface CacheBackendOptions {
  /**
   * Where the cache is: `redis://[user:pass@]host:port[/db]`, `rediss://…` (TLS),
   * `redis+cluster://[user:pass@]host:port[,host2:port…]` (a Redis Cluster, found from these seed nodes),
   * `redis+sentinel://[user:pass@]host:port[,host2:port…]/<masterName>` (a primary with replicas,
   * found through these sentinels; the credentials are the Redis servers'),
   * `memcached://[user:pass@]host:port[,host2:port]`, or `memory:` (this process only).
   * @example url: process.env.REDIS_URL
   */
  url?: string;
  /**
   * An existing client instead of a URL: a node-redis client (`createClient()`), a node-redis
   * cluster client (`createCluster()`), a node-redis sentinel client (`createSentinel()`), an
   * ioredis client (`new Redis()`, `new Redis.Cluster([…])`, or `new Redis({ sentinels, name })`
   * for Sentinel; without `keyPrefix`) or a memjs `Client`. Tessera closes it only if it opened
   * the connection itself (never an ioredis client, which connects by itself).
   */
  client?: unknown;
  /**
   * Prepended to the hashed key, so several apps can share one cache.
   * @default "tessera:session:"
   */
  prefix?: string;
  /**
   * Milliseconds to wait for the server (to connect, and for each command) before the
   * operation fails, so a hung or unreachable cache becomes an error, not a hung request.
   * @default 2000
   */
  timeout?: number;
}

/** Sessions in Redis/Valkey or memcached (or, with `memory:`, in this process). */
export function cacheBackend(options: CacheBackendOptions): ServerBackend {
  const timeout = options.timeout ?? 2000;
  if (!(typeof timeout === "number" && Number.isFinite(timeout) && timeout > 0))
    throw new ConfigurationError("cacheBackend timeout is in milliseconds and must be a positive number.");
  const prefix = options.prefix ?? "tessera:session:";
  const client = options.client;
  const given = typeof client === "object" && client !== null ? client : undefined;
  let name: string;
  let store: Store;
  /** A standalone or Sentinel-managed Redis over a client the app made. */
  const overClient = (redis: RedisLike) => redisStore(async () => redis, prefix, timeout);
  if (given !== undefined && isIoredisClient(given)) {
    // First: an ioredis client has a sendCommand too, which the node-redis checks look for.
    checkIoredisOptions(given);
    if (isIoredisCluster(given)) {
      name = "redis-cluster";
      const adapted = ioredisClusterAsClient(given);
      store = redisClusterStore(async () => adapted, prefix, timeout);
    } else {
      name = isIoredisSentinel(given) ? "redis-sentinel" : "redis";
      store = overClient(ioredisAsClient(given));
    }
  } else if (given !== undefined && isClusterClient(given)) {
    // A cluster keeps records and user indexes on different slots: see ./cache/redis-cluster.ts.
    name = "redis-cluster";
    store = redisClusterStore(async () => given, prefix, timeout);
  } else if (given !== undefined && isSentinelClient(given)) {
    name = "redis-sentinel";
    store = overClient(sentinelAsClient(given));
  } else if (given !== undefined && isRedisClient(given)) {
    name = "redis";
    store = overClient(given);
  } else if (given !== undefined && isMemjsClient(given)) {
    name = "memcached";
    store = memcachedStore(async () => given, false, prefix, timeout * 2 + 1000);
  } else if (client !== undefined) {
    throw new ConfigurationError(
      "cacheBackend client must be a node-redis client (createClient(), createCluster() or createSentinel()), an ioredis client (new Redis(), new Redis.Cluster() or new Redis({ sentinels, name })) or a memjs Client; otherwise pass a url.",
    );
  } else {
    const url = options.url ?? "";
    if (url === "memory:") return memoryBackend(); // one process: the memory backend is this cache
    if (url.startsWith("redis+cluster://")) {
      if (clusterRootUrls(url).length === 0)
        throw new ConfigurationError("cacheBackend needs at least one node in a redis+cluster:// url, e.g. redis+cluster://10.0.0.1:6379,10.0.0.2:6379.");
      name = "redis-cluster";
      store = redisClusterStore(() => openRedisCluster(url, timeout), prefix, timeout);
    } else if (url.startsWith("redis+sentinel://")) {
      const parsed = parseSentinelUrl(url);
      if (parsed.nodes.length === 0 || parsed.name === "")
        throw new ConfigurationError(
          "cacheBackend needs sentinels and the primary's name in a redis+sentinel:// url, e.g. redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster.",
        );
      name = "redis-sentinel";
      store = redisStore(() => openRedisSentinel(url, timeout), prefix, timeout);
    } else if (/^rediss?:\/\//.test(url)) {
      name = "redis";
      store = redisStore(() => openRedis(url, timeout), prefix, timeout);
    } else if (url.startsWith("memcached://")) {
      name = "memcached";
      store = memcachedStore(() => openMemcached(url.slice("memcached://".length).replace(/\/$/, ""), timeout), true, prefix, timeout * 2 + 1000);
    } else {
      throw new ConfigurationError(
        `cacheBackend needs a url of redis://host:port, rediss://…, memcached://host:port or memory:, redis+cluster://host:port,host:port for a Redis Cluster, or redis+sentinel://host:port,host:port/name for Sentinel (got ${shownUrl(url)}).`,
      );
    }
  }
  return {
    kind: "server",
    name,
    async load(key, now) {
      const text = await store.get(hashKey(key));
      const record = text === null ? null : decodeRecord(text);
      // The app's clock decides, not the TTL (a record may outlive its expiry by a second).
      return record === null || record.expiresAt <= now ? null : record;
    },
    async create(key, write) {
      if (!(await store.add(hashKey(key), encodeRecord(write, 1, write.now), ttlSeconds(write), write.userId))) throw new CreateError();
    },
    async update(key, write, expectedVersion) {
      const outcome = await store.swap(hashKey(key), expectedVersion, write, ttlSeconds(write));
      if (outcome === "missing") throw new UpdateError();
      if (outcome === "conflict") throw new VersionConflictError();
    },
    async delete(key) {
      await store.del(hashKey(key));
    },
    async exists(key) {
      return store.has(hashKey(key));
    },
    ...(store.userIndex ? userIndexMethods(store.userIndex, store) : {}),
    ...(store.scan ? { listSessions: (query: SessionListQuery) => listSessions(store, query) } : {}),
    close: () => store.close(),
  };
}

/**
 * The admin listing. One id or one user is looked up directly; otherwise every record is read
 * (SCAN), so a page costs O(sessions): fine for an admin page, not for a hot path.
 */
async function listSessions(store: Store, query: SessionListQuery): Promise<SessionListPage> {
  let entries: { id: string; value: string | null }[];
  if (query.id !== undefined) entries = isSessionId(query.id) ? [{ id: query.id, value: await store.get(query.id) }] : [];
  else if (query.userId !== undefined && store.userIndex) entries = await store.userIndex.list(query.userId);
  else entries = await (store.scan as NonNullable<Store["scan"]>)();
  const records: [string, StoredSession][] = [];
  for (const { id, value } of entries) {
    const record = value === null ? null : decodeRecord(value);
    if (record !== null) records.push([id, record]);
  }
  return listFromRecords(records, query);
}

/** The user index methods of a store that keeps one. */
function userIndexMethods(users: NonNullable<Store["userIndex"]>, store: Store): Pick<ServerBackend, "listByUser" | "deleteByUser" | "deleteById"> {
  return {
    async listByUser(userId, now) {
      const found = [];
      for (const { id, value } of await users.list(userId)) {
        const record = value === null ? null : decodeRecord(value);
        // The index may lag behind (a record expired or rebound); the record itself decides.
        if (record !== null && record.userId === userId && record.expiresAt > now) found.push({ ...record, id });
      }
      return found;
    },
    deleteByUser: (userId, exceptId) => users.deleteAll(userId, exceptId),
    async deleteById(id) {
      // Ids come from listings, maybe through a form: anything but a key hash names no session.
      if (isSessionId(id)) await store.del(id);
    },
  };
}
