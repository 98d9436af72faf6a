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

/** What the admin page and the CLI ask a listing backend for (see `ServerBackend.listSessions`). */
export interface SessionListQuery {
  /** The most sessions to return in this page. */
  readonly limit: number;
  /** The opaque cursor a previous page returned as `next`: continue after it. */
  readonly after?: string;
  /** Only the sessions bound to this app user. */
  readonly userId?: string;
  /** Only the session with this id (`hashKey(key)`): how a search by session key is answered. */
  readonly id?: string;
  /** Live sessions (`expiresAt > now`), expired ones (`expiresAt <= now`), or both. */
  readonly state: "active" | "expired" | "all";
  /** The core's clock, which decides what has expired. */
  readonly now: number;
}

/** One page of a listing: newest first, and the cursor of the next page if there is one. */
export interface SessionListPage {
  readonly sessions: (StoredSession & { readonly id: string })[];
  /** Pass as `after` to get the next page; absent on the last page. */
  readonly next?: string;
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
   * `false` when `createdAt` is only the time of the last save (Django's table has no creation
   * column), so `absoluteTimeout` cannot be enforced and is refused at startup. Absent means true.
   */
  readonly keepsCreationTime?: boolean;
  /**
   * The SQLite file the backend opens (an absolute path), when it opens one by URL. Opening a
   * missing file creates it, so the CLI's read and delete commands check that it exists first.
   */
  readonly sqliteFile?: string;
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
  /**
   * Deletes the record; a missing record is not an error. `now` is the app's clock, as for
   * `load`: the core always passes it, and a backend that keeps a time-limited trace of the
   * deletion (cachedDatabaseBackend's "deleted" marker) dates it by `now`, never by the machine.
   */
  delete(key: string, now?: number): Promise<void>;
  /**
   * Whether a record exists for `key`, expired or not (used to avoid key collisions). `now`: as
   * for `delete` (cachedDatabaseBackend reads its cache at `now`).
   */
  exists(key: string, now?: number): Promise<boolean>;
  /**
   * The user index: the live sessions bound to `userId` at `now`, each with its id, `hashKey(key)`
   * (never the key itself, so a listing cannot be replayed as a cookie). Absent if unsupported.
   */
  listByUser?(userId: string, now: number): Promise<(StoredSession & { readonly id: string })[]>;
  /** Deletes every session of `userId` except the one stored under `exceptId`; returns how many. */
  deleteByUser?(userId: string, exceptId?: string): Promise<number>;
  /** Deletes the record whose id (`hashKey(key)`) is `id`. */
  deleteById?(id: string): Promise<void>;
  /**
   * Lists sessions for the admin page and the CLI: newest first (`createdAt` descending, then id
   * descending), one page at a time through an opaque keyset cursor, so a page costs the same at
   * row ten and at row ten million. Ids are `hashKey(key)`, never keys. Absent if unsupported.
   */
  listSessions?(query: SessionListQuery): Promise<SessionListPage>;
  /** Deletes records that expired before `now` and returns how many. Absent if unsupported. */
  clearExpired?(now: number): Promise<number>;
  /** Creates or upgrades the schema. Absent when the backend needs none. */
  migrate?(): Promise<void>;
  /** Releases connections and handles. */
  close?(): Promise<void>;
}

/** What {@link CookieBackend.decode} found in a valid cookie value. */
export interface CookieOpened {
  readonly data: string;
  readonly expiresAt: number;
  /** True when it verified only with an older secret or in another format: re-issue it. */
  readonly stale: boolean;
  /** When the value was sealed, for a format that seals no expiry of its own (Django's). */
  readonly savedAt?: number;
  /** `data` already parsed, when the backend had to parse it anyway (a new Map the session keeps): the core then skips parsing it again. */
  readonly decoded?: Map<string, unknown>;
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
  decode(value: string, now: number, secrets: readonly string[]): CookieOpened | null | Promise<CookieOpened | null>;
  /**
   * Seals data and its expiry into a cookie value with the newest secret (`secrets[0]`). Either
   * may answer with a Promise (Web Crypto is async); Tessera's own backends always do.
   */
  encode(data: string, expiresAt: number, now: number, secrets: readonly string[]): string | Promise<string>;
  close?(): Promise<void>;
}

/** A {@link CookieBackend} whose `encode` and `decode` always answer with a Promise, as Tessera's own do. */
export interface AsyncCookieBackend extends CookieBackend {
  decode(value: string, now: number, secrets: readonly string[]): Promise<CookieOpened | null>;
  encode(data: string, expiresAt: number, now: number, secrets: readonly string[]): Promise<string>;
}

/** Any storage backend `createSessions({ backend })` accepts. */
export type SessionBackend = ServerBackend | CookieBackend;
