/**
 * The contract between Tessera's core and a storage backend. Backends only store and fetch;
 * every rule (keys, expiry arithmetic, cookies, merging) lives in the core.
 * @module
 */

/** What a server-side backend keeps for one session. Times are milliseconds since the epoch. */
export interface StoredSession {
  /** The session data, JSON-encoded by the core. The backend never parses it. */
  readonly data: string;
  /** When the session expires, from the core's clock. A backend checks it on load. */
  readonly expiresAt: number;
  /** Increments on every write, so a save can apply only on the version it loaded. */
  readonly version: number;
  /** The app user the session belongs to, for "sign out everywhere" (null if none). */
  readonly userId: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** What the core hands to `create` and `update`. */
export interface SessionWrite {
  readonly data: string;
  readonly expiresAt: number;
  readonly userId: string | null;
  /** The core's clock at the time of the write (`createdAt` on create, `updatedAt` always). */
  readonly now: number;
}

/**
 * A backend that keeps sessions on the server, found again by the key in the cookie.
 * Keys reach it already validated (`[a-z0-9]{8,40}`); it stores `hashKey(key)`, never the key.
 */
export interface ServerBackend {
  readonly kind: "server";
  /** Short name used in error messages and logs, e.g. "sqlite", "redis". */
  readonly name: string;
  /**
   * The record for `key`, or `null` when it is missing or expired at `now`. Never creates one.
   */
  load(key: string, now: number): Promise<StoredSession | null>;
  /** Inserts a record with version 1. Throws `CreateError` if the key exists (even expired). */
  create(key: string, write: SessionWrite): Promise<void>;
  /**
   * Replaces the record if its version is still `expectedVersion`, storing `expectedVersion + 1`.
   * Throws `UpdateError` if the record is gone, `VersionConflictError` if its version moved on.
   * Never resurrects a deleted record.
   */
  update(key: string, write: SessionWrite, expectedVersion: number): Promise<void>;
  /** Deletes the record; a missing record is not an error. */
  delete(key: string): Promise<void>;
  /** Whether a record exists for `key`, expired or not (used to avoid key collisions). */
  exists(key: string): Promise<boolean>;
  /**
   * The user index: the live sessions bound to `userId` at `now`, each with its id, `hashKey(key)`
   * (never the key itself, so a listing cannot be replayed as a cookie). Absent if unsupported.
   */
  listByUser?(userId: string, now: number): Promise<(StoredSession & { readonly id: string })[]>;
  /** Deletes every session of `userId` except the one stored under `exceptId`; returns how many. */
  deleteByUser?(userId: string, exceptId?: string): Promise<number>;
  /** Deletes the record whose id (`hashKey(key)`) is `id`. */
  deleteById?(id: string): Promise<void>;
  /** Deletes records that expired before `now` and returns how many. Absent if unsupported. */
  clearExpired?(now: number): Promise<number>;
  /** Creates or upgrades the schema. Absent when the backend needs none. */
  migrate?(): Promise<void>;
  /** Releases connections and handles. */
  close?(): Promise<void>;
}

/**
 * A backend that keeps the data in the cookie itself (signed or encrypted). The cookie value is
 * the session key, as in Django's signed_cookies engine.
 */
export interface CookieBackend {
  readonly kind: "cookie";
  readonly name: string;
  /**
   * The data and expiry carried by a cookie value, or `null` when it is tampered, malformed or
   * expired at `now`. `stale` is true when it verified only with an older secret (re-issue it).
   */
  decode(value: string, now: number, secrets: readonly string[]): { data: string; expiresAt: number; stale: boolean } | null;
  /** Seals data and its expiry into a cookie value with the newest secret (`secrets[0]`). */
  encode(data: string, expiresAt: number, now: number, secrets: readonly string[]): string;
  close?(): Promise<void>;
}

/** Any storage backend `createSessions({ backend })` accepts. */
export type SessionBackend = ServerBackend | CookieBackend;
