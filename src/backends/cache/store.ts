/**
 * What `cacheBackend` keeps in a cache server, and the few operations each server provides,
 * so the session logic in `../cache.ts` is written once.
 * @module
 */
import type { SessionWrite } from "../base.js";

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
  /** The user index (Redis sets or sorted sets; memcached a value per user). */
  readonly userIndex?: {
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

// The core's deadline, which every store call shares (a DeadlineError is a BackendError).
export { withDeadline } from "../../deadline.js";
export { DeadlineError } from "../../errors.js";
