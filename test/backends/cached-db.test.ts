/** cachedDatabaseBackend: Redis (a real redis-server) in front of SQLite, and memory in front of SQLite. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSessions, generateKey, hashKey, type ServerBackend, type SessionWrite } from "tessera-sessions";
import { cacheBackend } from "tessera-sessions/backends/cache";
import { cachedDatabaseBackend } from "tessera-sessions/backends/cached-db";
import { databaseBackend } from "tessera-sessions/backends/db";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { runBackendSuite } from "tessera-sessions/testing";
import { createClient } from "redis";
import { countingBackend, recordingLogger } from "../helpers.js";
import { startMemcached, type MemcachedServer } from "../servers/memcached.js";
import { startRedis, type RedisServer } from "../servers/redis.js";

const HOUR = 3_600_000;
let prefixes = 0;
const freshPrefix = () => `cdb${process.pid}-${++prefixes}:`;
const sqlite = () => databaseBackend({ url: "sqlite::memory:" });
const write = (data: string, now: number, overrides: Partial<SessionWrite> = {}): SessionWrite => ({
  data,
  expiresAt: now + HOUR,
  userId: null,
  now,
  ...overrides,
});

runBackendSuite({
  name: "cached-db (memory + sqlite)",
  create: () => cachedDatabaseBackend({ cache: memoryBackend(), database: sqlite() }),
  userIndex: true,
  listing: true,
  describe,
  it,
});

describe("cachedDatabaseBackend with Redis in front of SQLite", () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });

  runBackendSuite({
    name: "cached-db (redis + sqlite)",
    create: () => cachedDatabaseBackend({ cache: cacheBackend({ url: server.url, prefix: freshPrefix() }), database: sqlite() }),
    userIndex: true,
    listing: true,
    describe,
    it,
  });

  /** A cached-db backend whose database calls are counted. */
  function setup(options: { cacheUrl?: string; timeout?: number; cooldown?: number } = {}) {
    const database = countingBackend(sqlite());
    const cache = cacheBackend({ url: options.cacheUrl ?? server.url, prefix: freshPrefix(), timeout: options.timeout ?? 2000 });
    const logger = recordingLogger();
    const backend = cachedDatabaseBackend({ cache, database, logger, cacheCooldown: options.cooldown ?? 5000 });
    return { database, cache, logger, backend };
  }

  it("serves a cache hit with zero database calls, with the database's version", async () => {
    const { database, backend } = setup();
    const sessions = createSessions({ backend });
    const session = sessions.open();
    await session.set("n", 1);
    await sessions.commit(session, 200);
    const key = session.sessionKey as string;
    const update = sessions.open(key);
    await update.set("n", 2);
    await sessions.commit(update, 200);
    // The second request loaded from the cache that create had filled: the database only wrote.
    expect(database.calls).toEqual({ create: 1, update: 1 });

    const before = database.total();
    for (let i = 0; i < 5; i++) expect(await sessions.open(key).get("n")).toBe(2);
    const record = await backend.load(key, Date.now());
    expect(record?.version).toBe(2);
    expect(database.total()).toBe(before);
    await backend.close?.();
  });

  it("fills the cache on a miss, then hits", async () => {
    const { database, backend } = setup();
    const key = generateKey();
    const now = Date.now();
    await database.create(key, write('{"from":"db"}', now)); // written behind the cache's back
    expect((await backend.load(key, now))?.data).toBe('{"from":"db"}');
    expect(database.calls["load"]).toBe(1);
    expect((await backend.load(key, now))?.data).toBe('{"from":"db"}');
    expect(database.calls["load"]).toBe(1);
    await backend.close?.();
  });

  it("keeps only a hash of the key in Redis", async () => {
    const prefix = freshPrefix();
    const backend = cachedDatabaseBackend({ cache: cacheBackend({ url: server.url, prefix }), database: sqlite() });
    const sessions = createSessions({ backend });
    const session = sessions.open();
    await session.set("secret", "value");
    await sessions.commit(session, 200);
    const key = session.sessionKey as string;
    const raw = createClient({ url: server.url });
    await raw.connect();
    try {
      const keys = await raw.keys(`${prefix}*`);
      expect(keys).toEqual([prefix + hashKey(key)]);
      expect(await raw.get(keys[0] as string)).not.toContain(key);
    } finally {
      await raw.close();
      await backend.close?.();
    }
  });

  it("after a delete, answers from the cache that the session is gone (no database call, no resurrection)", async () => {
    const { database, backend } = setup();
    const key = generateKey();
    const now = Date.now();
    await backend.create(key, write("{}", now));
    await backend.delete(key);
    const before = database.total();
    expect(await backend.load(key, now)).toBeNull();
    expect(database.total()).toBe(before);
    await backend.close?.();
  });

  it("heals a cache that missed a database write: the conflicting save reloads from the database and merges", async () => {
    const { database, backend } = setup();
    const sessions = createSessions({ backend });
    const session = sessions.open();
    await session.set("a", 1);
    await sessions.commit(session, 200);
    const key = session.sessionKey as string;
    // Another writer updates the database directly; the cache still holds version 1.
    await database.update(key, write('{"a":1,"b":2}', Date.now()), 1);
    const stale = sessions.open(key);
    expect(await stale.get("b")).toBeUndefined(); // served from the outdated cache
    await stale.set("c", 3);
    await sessions.commit(stale, 200);
    expect(await sessions.open(key).load()).toEqual({ a: 1, b: 2, c: 3 });
    expect((await backend.load(key, Date.now()))?.version).toBe(3);
    await backend.close?.();
  });

  it("ends a user's sessions in the database and the cache alike", async () => {
    const backend = cachedDatabaseBackend({ cache: cacheBackend({ url: server.url, prefix: freshPrefix() }), database: sqlite() });
    const sessions = createSessions({ backend });
    const keys: string[] = [];
    for (let i = 0; i < 3; i++) {
      const session = sessions.open();
      await session.set("i", i);
      await session.setUser("u1");
      await sessions.commit(session, 200);
      keys.push(session.sessionKey as string);
      expect(await sessions.open(session.sessionKey as string).get("i")).toBe(i); // cached
    }
    const [keep, ...ended] = keys as [string, ...string[]];
    expect(await sessions.endAllForUser("u1", { except: sessions.open(keep) })).toBe(2);
    for (const key of ended) expect(await backend.load(key, Date.now())).toBeNull();
    expect(await sessions.open(keep).get("i")).toBe(0);
    const [listed] = await sessions.listForUser("u1");
    expect(await sessions.endSession("u1", listed?.id as string)).toBe(true);
    expect(await backend.load(keep, Date.now())).toBeNull();
    await backend.close?.();
  });

  /** SQLite whose next load reads the row at once but answers only when `release()` is called. */
  function heldDatabase() {
    const inner = sqlite();
    let hold: { reached: () => void; gate: Promise<void> } | undefined;
    const database: ServerBackend = {
      ...inner,
      load: async (key, now) => {
        const record = await inner.load(key, now);
        if (hold) {
          const { reached, gate } = hold;
          hold = undefined;
          reached();
          await gate;
        }
        return record;
      },
    };
    const holdNextLoad = () => {
      let release!: () => void;
      let reached!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const read = new Promise<void>((resolve) => (reached = resolve));
      hold = { reached, gate };
      return { read, release };
    };
    return { database, holdNextLoad };
  }

  it("a session revoked by id while a cache miss was reading the database is not put back into the cache", async () => {
    const { database, holdNextLoad } = heldDatabase();
    const cache = cacheBackend({ url: server.url, prefix: freshPrefix() });
    const backend = cachedDatabaseBackend({ cache, database });
    const sessions = createSessions({ backend });
    const session = sessions.open();
    await session.set("n", 1);
    await session.setUser("u1");
    await sessions.commit(session, 200);
    const key = session.sessionKey as string;
    await cache.delete(key); // evicted: the next load reads the database
    const held = holdNextLoad();
    const loading = backend.load(key, Date.now());
    await held.read; // the database has answered with the row, not yet delivered
    expect(await sessions.endAllForUser("u1")).toBe(1);
    held.release();
    expect(await loading).toBeNull();
    expect(await backend.load(key, Date.now())).toBeNull();
    expect(await sessions.open(key).get("n")).toBeUndefined();
    await backend.close?.();
  });

  it("exists() answers from the cache first, as Django's test_exists_searches_cache_first", async () => {
    const { database, backend } = setup();
    const key = generateKey();
    const now = Date.now();
    await backend.create(key, write("{}", now));
    database.reset();
    expect(await backend.exists(key)).toBe(true);
    expect(database.calls).toEqual({});
    await backend.delete(key);
    database.reset();
    expect(await backend.exists(key)).toBe(false); // the "deleted" marker answers
    expect(database.calls).toEqual({});
    const other = generateKey();
    expect(await backend.exists(other)).toBe(false); // a miss asks the database
    expect(database.calls).toEqual({ exists: 1 });
    await backend.close?.();
  });

  it("offers no user index when the cache cannot drop entries by id", () => {
    const withoutIds: ServerBackend = { ...memoryBackend() };
    delete (withoutIds as { deleteById?: unknown }).deleteById;
    expect(cachedDatabaseBackend({ cache: withoutIds, database: sqlite() }).listByUser).toBeUndefined();
  });

  it("carries on against the database while the cache is down, logging the failure", async () => {
    const own = await startRedis();
    const { database, backend, logger } = setup({ cacheUrl: own.url, timeout: 300 });
    const sessions = createSessions({ backend });
    try {
      await own.stop();
      const session = sessions.open();
      await session.set("user", "jane");
      await sessions.commit(session, 200);
      const key = session.sessionKey as string;
      const again = sessions.open(key);
      expect(await again.get("user")).toBe("jane");
      await again.set("user", "joe");
      await sessions.commit(again, 200);
      expect(await sessions.open(key).get("user")).toBe("joe");
      await sessions.open(key).flush();
      expect(await database.exists(key)).toBe(false);
      expect(logger.errors.length).toBeGreaterThanOrEqual(1);
      expect(logger.errors[0]).toMatch(/\[cached-db\] could not \w+ the redis cache; carrying on with the sqlite database/);
    } finally {
      await backend.close?.();
      await own.stop();
    }
  });

  it("never serves an entry written before a cache outage that this process wrote through", async () => {
    const own = await startRedis();
    const { backend, logger } = setup({ cacheUrl: own.url, timeout: 300, cooldown: 50 });
    const sessions = createSessions({ backend });
    try {
      const session = sessions.open();
      await session.set("v", 1);
      await sessions.commit(session, 200); // cached as version 1
      const key = session.sessionKey as string;
      own.pause(); // the cache hangs: the next write reaches only the database
      const change = sessions.open(key);
      await change.set("v", 2);
      await sessions.commit(change, 200);
      expect(logger.errors.length).toBeGreaterThanOrEqual(1);
      own.resume();
      await new Promise((resolve) => setTimeout(resolve, 100)); // past the cooldown
      expect(await sessions.open(key).get("v")).toBe(2);
      expect((await backend.load(key, Date.now()))?.version).toBe(2);
    } finally {
      own.resume();
      await backend.close?.();
      await own.stop();
    }
  });
});

describe("cachedDatabaseBackend with memcached in front of SQLite", () => {
  let server: MemcachedServer;
  beforeAll(async () => {
    server = await startMemcached();
  });
  afterAll(async () => {
    await server?.stop();
  });

  // memcached cannot drop entries by id, so cached-db offers no user index on it.
  runBackendSuite({
    name: "cached-db (memcached + sqlite)",
    create: () => cachedDatabaseBackend({ cache: cacheBackend({ url: server.url, prefix: freshPrefix() }), database: sqlite() }),
    listing: true,
    describe,
    it,
  });
});

describe("cachedDatabaseBackend options", () => {
  it("needs two server-side backends", () => {
    expect(() => cachedDatabaseBackend({ cache: undefined as unknown as ServerBackend, database: sqlite() })).toThrow(/cache must be a server-side backend/);
  });

  it("reads and writes the cache by the `now` it is handed, not the machine's clock (exists, delete)", async () => {
    // A fake clock years away from the machine's, in each direction.
    const clock = { now: Date.UTC(2001, 0, 1), read: () => clock.now };
    const database = countingBackend(sqlite());
    const backend = cachedDatabaseBackend({ cache: memoryBackend(), database });
    const key = generateKey();
    await backend.create(key, write("{}", clock.now));
    database.reset();
    // The cached copy is alive at the app's time (it expired long ago by Date.now()): the cache answers.
    expect(await backend.exists(key, clock.now)).toBe(true);
    expect(database.calls).toEqual({});
    clock.now = Date.UTC(2100, 0, 1);
    const later = generateKey();
    await backend.create(later, write("{}", clock.now));
    await backend.delete(later, clock.now);
    database.reset();
    // The "deleted" marker lives by the app's clock too, so a load meets it and never asks the database.
    expect(await backend.load(later, clock.now)).toBeNull();
    expect(await backend.exists(later, clock.now)).toBe(false);
    expect(database.calls).toEqual({});
    await backend.close?.();
  });

  it("createSessions hands it the app's clock: a session flushed under a fake clock stays gone from the cache, the clock given once", async () => {
    const clock = { now: Date.UTC(2100, 0, 1) };
    const database = countingBackend(sqlite());
    const sessions = createSessions({
      backend: cachedDatabaseBackend({ cache: memoryBackend(), database }),
      clock: () => clock.now,
      logger: { warn() {}, error() {} },
    });
    const session = sessions.open();
    await session.set("user", "ann");
    await session.save();
    const key = session.sessionKey as string;
    expect(await sessions.open(key).exists(key)).toBe(true); // the cached copy, alive at 2100
    const flushed = sessions.open(key);
    await flushed.get("user");
    database.reset();
    await flushed.flush();
    expect(database.methods()).toEqual(["delete"]);
    database.reset();
    // The marker was dated by the app's 2100, so it is alive then: neither call reaches the database.
    expect(await sessions.open(key).get("user")).toBeUndefined();
    expect(await sessions.open(key).exists(key)).toBe(false);
    expect(database.calls).toEqual({});
    await sessions.close();
  });

  it("clears expired sessions in the database and closes both", async () => {
    const database = sqlite();
    const backend = cachedDatabaseBackend({ cache: memoryBackend(), database });
    const now = Date.now();
    await backend.create(generateKey(), write("{}", now, { expiresAt: now + 10 }));
    expect(await backend.clearExpired?.(now + 1000)).toBe(1);
    await backend.close?.();
  });
});
