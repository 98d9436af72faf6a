/**
 * What `cacheBackend` keeps in a cache server, and the few operations each server provides,
 * so the session logic in `../cache.ts` is written once.
 * @module
 */
import type { SessionWrite, StoredSession } from "../base.js";

/**
 * The few operations each cache server provides. `id` is `hashKey(key)`; the store adds its
 * prefix. `ttl` is in seconds.
 */
export interface Store {
  get(id: string): Promise<string | null>;
  /** Stores `value` only if `id` is absent; false when it was taken. */
  add(id: string, value: string, ttl: number, userId: string | null): Promise<boolean>;
  /** Replaces the record if it still has `expected` as its version, keeping its createdAt. */
  swap(id: string, expected: number, write: SessionWrite, ttl: number): Promise<"ok" | "missing" | "conflict">;
  del(id: string): Promise<void>;
  has(id: string): Promise<boolean>;
  /** The user index, where the server can keep one (Redis sets; memcached has none). */
  readonly users?: {
    /** The ids indexed under `userId` with their stored values (null when gone). */
    list(userId: string): Promise<{ id: string; value: string | null }[]>;
    /** Deletes the user's records except `exceptId`; returns how many. */
    deleteAll(userId: string, exceptId: string | undefined): Promise<number>;
  };
  /** Every stored record with its id, for the admin listing (Redis: SCAN, O(sessions)). */
  scan?(): Promise<{ id: string; value: string | null }[]>;
  close(): Promise<void>;
}

/** The store's TTL in whole seconds, rounded up and at least 1 (0 would mean "never" to memcached). */
export function ttlSeconds(write: SessionWrite): number {
  return Math.max(1, Math.ceil((write.expiresAt - write.now) / 1000));
}

/** Every field but createdAt, as the inside of a JSON object; the Redis script prepends createdAt. */
export function recordTail(write: SessionWrite, version: number): string {
  return JSON.stringify({ expiresAt: write.expiresAt, version, userId: write.userId, updatedAt: write.now, data: write.data }).slice(1, -1);
}

/** The stored JSON of a record: createdAt first, so the Redis script can keep it while replacing the rest. */
export function encodeRecord(record: SessionWrite & { version: number; createdAt: number }): string {
  return `{"createdAt":${record.createdAt},${recordTail(record, record.version)}}`;
}

/** A stored record, or null for anything that is not one (treated as missing, never a crash). */
export function decodeRecord(text: string): StoredSession | null {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return null;
  }
  const { data, expiresAt, version, userId, createdAt, updatedAt } = value ?? {};
  if (typeof data !== "string" || typeof expiresAt !== "number" || typeof version !== "number") return null;
  if (typeof createdAt !== "number" || typeof updatedAt !== "number" || (userId !== null && typeof userId !== "string")) return null;
  return { data, expiresAt, version, userId, createdAt, updatedAt };
}

// The core's deadline, which every store call shares (a DeadlineError is a BackendError).
export { withDeadline } from "../../deadline.js";
export { DeadlineError } from "../../errors.js";

