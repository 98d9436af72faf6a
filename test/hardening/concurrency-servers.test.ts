/**
 * The concurrency suite (50 concurrent HTTP writers on one session, and the same beside a
 * flush) on every server-side backend that runs in its own server: PostgreSQL, MariaDB, Redis,
 * memcached, and the cached database (Redis in front of PostgreSQL). Each server is started
 * once for the file; every test gets a fresh backend on it (the suite closes it afterwards).
 */
import { afterAll } from "vitest";
import { cacheBackend } from "tessera-sessions/backends/cache";
import { cachedDatabaseBackend } from "tessera-sessions/backends/cached-db";
import { databaseBackend } from "tessera-sessions/backends/db";
import { startMariadb } from "../servers/mariadb.js";
import { startMemcached } from "../servers/memcached.js";
import { startPostgres } from "../servers/postgres.js";
import { startRedis } from "../servers/redis.js";
import { runConcurrencySuite } from "./concurrency.suite.js";

/** Starts a server on first use and stops it after the file. */
function lazily<T extends { stop(): Promise<void> }>(start: () => Promise<T>): () => Promise<T> {
  let started: Promise<T> | undefined;
  afterAll(async () => {
    if (started) await (await started).stop();
  }, 60_000);
  return () => (started ??= start());
}

const postgres = lazily(() => startPostgres());
const mariadb = lazily(() => startMariadb());
const redis = lazily(() => startRedis());
const memcached = lazily(() => startMemcached());

/** A SQL backend on `url`, migrated. */
async function migrated(url: string) {
  const backend = databaseBackend({ url });
  await backend.migrate?.();
  return backend;
}

runConcurrencySuite({ name: "postgres", create: async () => ({ backend: await migrated((await postgres()).url) }) });
runConcurrencySuite({ name: "mariadb", create: async () => ({ backend: await migrated((await mariadb()).url) }) });
runConcurrencySuite({ name: "redis", create: async () => ({ backend: cacheBackend({ url: (await redis()).url }) }) });
runConcurrencySuite({ name: "memcached", create: async () => ({ backend: cacheBackend({ url: (await memcached()).url }) }) });
runConcurrencySuite({
  name: "cached-db (redis + postgres)",
  create: async () => ({
    backend: cachedDatabaseBackend({ cache: cacheBackend({ url: (await redis()).url }), database: await migrated((await postgres()).url) }),
  }),
});
