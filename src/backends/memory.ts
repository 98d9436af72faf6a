/**
 * `memoryBackend()`: sessions in this process's memory, for tests and single-process
 * development. Bounded: past `maxEntries` the least recently written session is dropped.
 * @module
 */
import { ConfigurationError, CreateError, UpdateError, VersionConflictError } from "../errors.js";
import { hashKey } from "../keys.js";
import type { ServerBackend, StoredSession } from "./base.js";
import { listFromRecords } from "./listing.js";
import { toRecord } from "./record.js";
import { RecentMap } from "../recent-map.js";

const NAME = "memory";

/** Options of {@link memoryBackend}. */
export interface MemoryBackendOptions {
  /**
   * The most sessions kept; the least recently written one goes first when full.
   * @default 10000
   */
  maxEntries?: number;
}

/** A server-side backend keeping sessions in a Map (lost on restart, not shared between processes). */
export function memoryBackend(options: MemoryBackendOptions = {}): ServerBackend {
  const maxEntries = options.maxEntries ?? 10_000;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new ConfigurationError(`memoryBackend maxEntries must be a positive whole number (it is ${String(maxEntries)}).`);
  }
  // Keyed by the key's hash, like every server-side store; the least recently written goes first.
  const records = new RecentMap<string, StoredSession>(maxEntries);

  return {
    kind: "server",
    name: NAME,
    async load(key, now) {
      const id = hashKey(key);
      const record = records.get(id);
      if (record === undefined || record.expiresAt <= now) return null;
      return record;
    },
    async create(key, write) {
      const id = hashKey(key);
      if (records.has(id)) throw new CreateError();
      records.put(id, toRecord(write, 1, write.now));
    },
    async update(key, write, expectedVersion) {
      const id = hashKey(key);
      const current = records.get(id);
      if (current === undefined) throw new UpdateError();
      if (current.version !== expectedVersion) throw new VersionConflictError();
      records.put(id, toRecord(write, expectedVersion + 1, current.createdAt));
    },
    async delete(key) {
      records.delete(hashKey(key));
    },
    async exists(key) {
      return records.has(hashKey(key));
    },
    async listByUser(userId, now) {
      return [...records].filter(([, r]) => r.userId === userId && r.expiresAt > now).map(([id, r]) => ({ ...r, id }));
    },
    async deleteByUser(userId, exceptId) {
      let count = 0;
      for (const [id, record] of records) {
        if (record.userId === userId && id !== exceptId) {
          records.delete(id);
          count++;
        }
      }
      return count;
    },
    async deleteById(id) {
      records.delete(id);
    },
    async listSessions(query) {
      return listFromRecords(records, query);
    },
    async clearExpired(now) {
      let count = 0;
      for (const [id, record] of records) {
        if (record.expiresAt < now) {
          records.delete(id);
          count++;
        }
      }
      return count;
    },
  };
}
