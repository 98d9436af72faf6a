/**
 * `cachedDatabaseBackend({ cache, database })`: Django's `cached_db` engine, composed from two
 * server backends. The database holds the truth; the cache spares it the reads.
 *
 * - load: the cache first; on a miss, the database, and the record is copied into the cache;
 *   the database is then asked once more whether the record still exists, so a revocation by id
 *   that ran meanwhile is not undone by the copy.
 * - exists: the cache first (a copy or a "deleted" marker answers), then the database.
 * - create/update: the database first (its CreateError, UpdateError and VersionConflictError
 *   are the answer), then the cache, with the database's version.
 * - delete: the database, then a short-lived "deleted" marker in the cache, so a request that
 *   read the record just before cannot put it back into the cache afterwards.
 * - A cache failure is logged and the request carries on against the database; for
 *   `cacheCooldown` ms after one, the cache is left alone (a dead server is not waited for on
 *   every request). A key whose cache entry could not be updated is remembered, and its entry
 *   is deleted before this process reads it from the cache again. Another process sharing the
 *   cache does not know that, so after an outage it may read an outdated entry until that entry
 *   next changes or expires: flush the cache after a long outage if that matters.
 *
 * - The user index (listForUser, endAllForUser, endSession) is the database's, offered when the
 *   cache can also drop entries by id (`cacheBackend` on Redis, `memoryBackend`), so a session
 *   ended by id does not live on in the cache.
 *
 * - The admin listing (`listSessions`), clearExpired and migrate are the database's.
 *
 * The cache entry wraps the database record (its version, timestamps and data), so any server
 * backend can serve as the cache, `cacheBackend` and `memoryBackend` included.
 * @module
 */
import { ConfigurationError, CreateError, UpdateError, VersionConflictError } from "../errors.js";
import { hashKey } from "../keys.js";
import { RecentMap } from "../recent-map.js";
import type { Logger } from "../options.js";
import type { ServerBackend, SessionWrite, StoredSession } from "./base.js";

/** Options of {@link cachedDatabaseBackend}. */
export interface CachedDatabaseBackendOptions {
  /**
   * The cache, e.g. `cacheBackend({ url: "redis://localhost:6379" })`.
   * @example cache: cacheBackend({ url: process.env.REDIS_URL })
   */
  cache: ServerBackend;
  /**
   * The database, which holds the truth.
   * @example database: databaseBackend({ url: process.env.DATABASE_URL })
   */
  database: ServerBackend;
  /**
   * Where cache failures are reported (they never fail a request).
   * @default console
   */
  logger?: Pick<Logger, "error">;
  /**
   * Milliseconds to leave the cache alone after it failed, so requests do not each wait for a
   * dead server.
   * @default 5000
   */
  cacheCooldown?: number;
}

/** How long a "deleted" marker stays in the cache: longer than any request takes. */
const DELETED_MARKER_MS = 60_000;
/** Keys whose cache entry may be outdated; past this many, the oldest are forgotten. */
const MAX_DIRTY_KEYS = 10_000;
/** Attempts to settle a cache entry against concurrent writers before giving up on it. */
const CACHE_WRITE_ATTEMPTS = 3;

/** A cache entry: a copy of the database's record, or the marker of a deleted one. */
type Entry = { readonly kind: "session"; readonly record: StoredSession } | { readonly kind: "deleted" };
/** What to store in the cache: an entry and its expiry. */
type CacheWrite = { readonly payload: string; readonly expiresAt: number };

/** The database's sessions, read through a cache (Django's cached_db). */
export function cachedDatabaseBackend(options: CachedDatabaseBackendOptions): ServerBackend {
  const { cache, database } = options;
  for (const [role, backend] of [
    ["cache", cache],
    ["database", database],
  ] as const) {
    if ((backend as Partial<ServerBackend> | undefined)?.kind !== "server") {
      throw new ConfigurationError(`cachedDatabaseBackend ${role} must be a server-side backend, e.g. cacheBackend({ url }) or databaseBackend({ url }).`);
    }
  }
  const logger = options.logger ?? console;
  const cooldown = options.cacheCooldown ?? 5000;
  let cacheDownUntil = 0;
  /** Ids (`hashKey(key)`) whose cache entry may predate a write the cache missed. */
  const dirty = new RecentMap<string, true>(MAX_DIRTY_KEYS);
  const markDirty = (id: string) => dirty.put(id, true);

  /**
   * Runs `op` against the cache (first deleting the entry if it may be outdated); a failure is
   * logged and gives `undefined`, never an error. `key` is absent when only the id is known.
   */
  async function withCache<T>(id: string, key: string | undefined, action: string, op: () => Promise<T>): Promise<T | undefined> {
    if (Date.now() < cacheDownUntil) return undefined;
    try {
      if (dirty.has(id)) {
        await (key === undefined ? cache.deleteById?.(id) : cache.delete(key));
        dirty.delete(id);
      }
      return await op();
    } catch (error) {
      cacheDownUntil = Date.now() + cooldown;
      logger.error(`[tessera] [cached-db] could not ${action} the ${cache.name} cache; carrying on with the ${database.name} database.`, error);
      return undefined;
    }
  }

  /**
   * Stores what `decide` returns from the current entry (nothing if it returns undefined). The
   * cache's own versions make each step atomic, so concurrent writers cannot interleave.
   */
  async function settle(key: string, now: number, decide: (current: Entry | null) => CacheWrite | undefined, known?: StoredSession | null): Promise<void> {
    let leftover = false;
    for (let attempt = 0; attempt < CACHE_WRITE_ATTEMPTS; attempt++) {
      const current = attempt === 0 && known !== undefined ? known : await cache.load(key, now);
      const next = decide(current === null ? null : parseEntry(current));
      if (next === undefined) return;
      // The user id travels inside the payload: the user index is the database's, and a cache
      // that keeps its own (Redis) should not index copies.
      const write: SessionWrite = { data: next.payload, expiresAt: next.expiresAt, userId: null, now };
      try {
        if (current !== null) await cache.update(key, write, current.version);
        else {
          if (leftover) await cache.delete(key, now); // expired by the clock but not yet by the TTL
          await cache.create(key, write);
        }
        return;
      } catch (error) {
        if (error instanceof CreateError) leftover = current === null;
        else if (!(error instanceof VersionConflictError || error instanceof UpdateError)) throw error;
      }
    }
    await cache.delete(key, now); // it kept changing under us: no entry is better than a wrong one
  }

  /** Writes the cache after a database write; if that fails, the entry may be outdated. */
  async function afterWrite(key: string, action: string, now: number, decide: (current: Entry | null) => CacheWrite | undefined): Promise<void> {
    const id = hashKey(key);
    const done = await withCache(id, key, action, async () => {
      await settle(key, now, decide);
      return true;
    });
    if (done === undefined) markDirty(id);
  }

  const deletedMarker = (now: number): CacheWrite => ({ payload: '{"deleted":true}', expiresAt: now + DELETED_MARKER_MS });

  /** Drops the cache entry of a record deleted by id (the user index knows ids, not keys). */
  async function forget(id: string): Promise<void> {
    const done = await withCache(id, undefined, "invalidate", async () => (cache.deleteById as (id: string) => Promise<void>)(id).then(() => true));
    if (done === undefined) markDirty(id);
  }

  // The user index is the database's; it is offered only if the cache can drop entries by id,
  // or "sign out everywhere" would leave the sessions alive in the cache.
  const { listByUser, deleteByUser, deleteById } = database;
  const userIndexMethods: Pick<ServerBackend, "listByUser" | "deleteByUser" | "deleteById"> =
    listByUser && deleteByUser && deleteById && cache.deleteById
      ? {
          listByUser: (userId, now) => listByUser.call(database, userId, now),
          async deleteByUser(userId, exceptId) {
            const ids = (await listByUser.call(database, userId, 0)).map((record) => record.id).filter((id) => id !== exceptId);
            const count = await deleteByUser.call(database, userId, exceptId);
            for (const id of ids) await forget(id);
            return count;
          },
          async deleteById(id) {
            await deleteById.call(database, id);
            await forget(id);
          },
        }
      : {};

  return {
    kind: "server",
    name: `cached-db(${cache.name}+${database.name})`,
    ...(database.keepsCreationTime === false ? { keepsCreationTime: false } : {}),
    ...(database.sqliteFile === undefined ? {} : { sqliteFile: database.sqliteFile }),
    async load(key, now) {
      const cached = await withCache(hashKey(key), key, "read", () => cache.load(key, now));
      const entry = cached ? parseEntry(cached) : null;
      if (entry?.kind === "deleted") return null;
      if (entry?.kind === "session") return entry.record;
      const record = await database.load(key, now);
      // Fill only a cache that answered, and never over a newer copy or a deletion marker.
      if (record !== null && cached !== undefined) {
        let filled = false;
        const decide = (current: Entry | null) => {
          filled = current === null || (current.kind === "session" && current.record.version < record.version);
          return filled ? cacheWriteFor(record) : undefined;
        };
        await withCache(hashKey(key), key, "fill", () => settle(key, now, decide, cached));
        // A revocation by id (endAllForUser, the admin, the CLI) knows no key, so it can only drop
        // the entry, not leave a marker: if it ran between our database read and our fill, the
        // fill put the session back. Asking the database again after the fill closes that gap.
        if (filled && !(await database.exists(key, now))) {
          await afterWrite(key, "write", now, () => deletedMarker(now));
          return null;
        }
      }
      return record;
    },
    async create(key, write) {
      await database.create(key, write);
      const record: StoredSession = {
        data: write.data,
        expiresAt: write.expiresAt,
        userId: write.userId,
        version: 1,
        createdAt: write.now,
        updatedAt: write.now,
      };
      await afterWrite(key, "write", write.now, () => cacheWriteFor(record));
    },
    async update(key, write, expectedVersion) {
      try {
        await database.update(key, write, expectedVersion);
      } catch (error) {
        // The cached copy is outdated: gone from the database, or behind its version.
        if (error instanceof UpdateError) await afterWrite(key, "write", write.now, () => deletedMarker(write.now));
        if (error instanceof VersionConflictError) {
          const id = hashKey(key);
          const done = await withCache(id, key, "invalidate", async () => cache.delete(key, write.now).then(() => true));
          if (done === undefined) markDirty(id);
        }
        throw error;
      }
      const version = expectedVersion + 1;
      // The cache's copy gives createdAt; without one, the next load fills it from the database.
      await afterWrite(key, "write", write.now, (current) => {
        if (current?.kind !== "session" || current.record.version >= version) return undefined;
        return cacheWriteFor({
          data: write.data,
          expiresAt: write.expiresAt,
          userId: write.userId,
          version,
          createdAt: current.record.createdAt,
          updatedAt: write.now,
        });
      });
    },
    // createSessions passes the app's clock as `now`; only a caller outside it (a script, a test) falls back to the machine's.
    async delete(key, now = Date.now()) {
      await database.delete(key, now);
      // The marker must outlive a request, by the clock loads are checked against.
      await afterWrite(key, "write", now, () => deletedMarker(now));
    },
    async exists(key, now = Date.now()) {
      // As Django's cached_db: the cache first, then the database (expired records included).
      const cached = await withCache(hashKey(key), key, "read", () => cache.load(key, now));
      const entry = cached ? parseEntry(cached) : null;
      if (entry !== null) return entry.kind === "session";
      return database.exists(key, now);
    },
    ...userIndexMethods,
    // The admin listing reads the database: it holds every session, the cache only some.
    ...(database.listSessions ? { listSessions: database.listSessions.bind(database) } : {}),
    ...(database.clearExpired ? { clearExpired: (now: number) => (database.clearExpired as (now: number) => Promise<number>)(now) } : {}),
    ...(database.migrate ? { migrate: () => (database.migrate as () => Promise<void>)() } : {}),
    async close() {
      await Promise.all([cache.close?.(), database.close?.()]);
    },
  };
}

/** The cache entry holding `record`. */
function cacheWriteFor(record: StoredSession): CacheWrite {
  const payload = JSON.stringify({ v: record.version, c: record.createdAt, u: record.updatedAt, user: record.userId, d: record.data });
  return { payload, expiresAt: record.expiresAt };
}

/** The entry a cache record holds, or null if it holds none (then it is overwritten). */
function parseEntry(cached: StoredSession): Entry | null {
  let value: { v?: unknown; c?: unknown; u?: unknown; user?: unknown; d?: unknown; deleted?: unknown };
  try {
    value = JSON.parse(cached.data) as typeof value;
  } catch {
    return null;
  }
  if (value?.deleted === true) return { kind: "deleted" };
  const { v, c, u, user, d } = value ?? {};
  if (typeof v !== "number" || typeof c !== "number" || typeof u !== "number" || typeof d !== "string") return null;
  if (user !== null && typeof user !== "string") return null;
  return { kind: "session", record: { data: d, expiresAt: cached.expiresAt, userId: user, version: v, createdAt: c, updatedAt: u } };
}
