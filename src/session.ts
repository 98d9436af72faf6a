/**
 * The Session: Django's `SessionBase` in camelCase, async, typed by the app's data shape.
 * It owns the dictionary, the `accessed`/`modified` flags, the expiry arithmetic, `cycleKey`,
 * `flush` and the versioned save; backends only store and fetch.
 * @module
 */
import type { ServerBackend, SessionWrite, StoredSession } from "./backends/base.js";
import { assertJsonValue, decodeData, encodeData, pythonDatetime } from "./codec.js";
import { BackendError, CreateError, SessionNotLoadedError, UpdateError, VersionConflictError } from "./errors.js";
import { generateKey, isValidKey } from "./keys.js";
import type { ResolvedOptions } from "./options.js";
import { gatewayOf } from "./gateway.js";
import type { OldCookie } from "./migrate.js";
import { countConflictMerged, observeBackendCall } from "./observe.js";
import { guardPlainProperties, loadedView } from "./plain-properties.js";
import { FLASH_KEY, storedFlashes, type FlashMessage } from "./flash.js";

/** The shape of session data when the app does not declare one: any JSON value under any key. */
export type SessionData = Record<string, unknown>;

/**
 * Declare your session's shape once, and `req.session` (Express, node:http...) is typed by it:
 *
 * @example
 * declare module "tessera-sessions" {
 *   interface AppSessionData { username?: string; cart: number[] }
 * }
 */
export interface AppSessionData {}

/** The data type adapters give `req.session`: `AppSessionData` once declared, else `SessionData`. */
export type RequestSessionData = keyof AppSessionData extends never ? SessionData : AppSessionData;

/** What `setExpiry` accepts: seconds of inactivity, an absolute Date, 0 (browser close), null (default). */
export type ExpiryValue = number | Date | null;

/** Options of `getExpiryAge` / `getExpiryDate`, as Django's keyword arguments. */
export interface ExpiryOptions {
  /** The moment to measure from (default: the clock's now). */
  modification?: Date | number;
  /** Use this expiry instead of the stored one (given, even as null, it avoids a load). */
  expiry?: number | string | Date | null | undefined;
}

/** Django's test-cookie key and value. */
const TEST_COOKIE_NAME = "testcookie";
const TEST_COOKIE_VALUE = "worked";
/** Where the expiry set by `setExpiry` lives in the data, as in Django. */
const EXPIRY_KEY = "_session_expiry";
/**
 * A conflicting save reloads and re-applies its own changes at most this often. Each round lets
 * at least one writer through, so N requests saving one session at once need up to N attempts.
 */
const MAX_MERGE_ATTEMPTS = 100;
/** Key collisions are all but impossible (165 random bits); retrying forever would hide a broken store. */
const MAX_CREATE_ATTEMPTS = 100;
const DELETED = Symbol("deleted");
/**
 * The saves of one session key in this process (see `#saveInTurn`): at most one write in
 * flight; the saves that arrive meanwhile wait and then go out together as one write.
 */
interface KeyWriter {
  busy: boolean;
  // the data type plays no part in writing
  waiting: { session: Session<any>; done: (error?: unknown) => void }[];
  /** What this process last wrote for the key: the freshest state to build the next write on. */
  latest: { version: number; data: Map<string, unknown>; userId: string | null; createdAt: number | undefined } | undefined;
}
/** Per `createSessions` instance: the writer of each session key with saves in progress. */
const WRITERS = new WeakMap<ResolvedOptions, Map<string, KeyWriter>>();
/**
 * @internal The commit rules ask a session through this whether sliding expiry wants it re-saved.
 * A symbol keeps it off the public `Session` surface.
 */
export const touchDue = Symbol("tessera.touchDue");
/** @internal The commit rules find the request's old-framework cookie (see `migrateFrom`) through this. */
export const oldCookie = Symbol("tessera.oldCookie");
/** @internal The options of the `createSessions` that opened a session (see `sessions.of`). */
export const openedBy = Symbol("tessera.openedBy");
/** @internal Marks a session an adapter has committed (see `firstCommit` in adapters/shared.ts). */
export const committed = Symbol("tessera.committed");
/** @internal The commit asks a session through this for the Max-Age of the cookie a save sends. */
export const cookieMaxAge = Symbol("tessera.cookieMaxAge");

type Key<Data> = keyof Data & string;

/**
 * One visitor's session. Data methods are async: the first one loads from the backend, exactly
 * once; a request that never touches the session does no I/O at all.
 */
export class Session<Data extends object = SessionData> {
  /** True once any data was read or written (then the response varies by Cookie). */
  accessed = false;
  /** True once the data changed; the session is saved at the end of the request. */
  modified = false;
  /** Whether the request carried the session cookie (even an invalid one). */
  readonly hadCookie: boolean;
  /** @internal A field from the start, so marking it never changes the object's shape. */
  [committed] = false;

  readonly #options: ResolvedOptions;
  #key: string | null;
  #cache: Map<string, unknown> | undefined;
  #loading: Promise<Map<string, unknown>> | undefined;
  /** The stored version this request loaded or last wrote (server backends). */
  #version: number | undefined;
  /** When the stored record was created (absoluteTimeout counts from it); undefined before one exists. */
  #createdAt: number | undefined;
  /** The expiry the store holds now, as loaded or last written (the throttled touch compares with it). */
  #storedExpiresAt: number | undefined;
  #userId: string | null = null;
  /** This request's own changes, re-applied over fresh data when a save meets a conflict. */
  #changes = new Map<string, unknown>();
  #cleared = false;
  /** Whether this request has written the record (see `save`). */
  #written = false;
  /** Whether this request bound the session to a user (so a merge keeps this request's choice). */
  #userChanged = false;
  /** A key from cycleKey whose record is not written yet: the save creates it, data and all. */
  #createOnSave = false;
  /** The cookie of the session framework being migrated from, when the request carried one. */
  readonly #old: OldCookie | undefined;
  /** The `data` view, made on first use. */
  #view: Record<string, unknown> | undefined;

  /** @internal Use `sessions.open(cookieValue)`. */
  constructor(options: ResolvedOptions, cookieValue: string | undefined, old?: OldCookie) {
    this.#options = options;
    this.hadCookie = cookieValue !== undefined;
    this.#key = this.#acceptKey(cookieValue);
    this.#old = old;
  }

  /** @internal */
  get [oldCookie](): OldCookie | undefined {
    return this.#old;
  }

  /** The session key (the cookie value), or null when there is none yet. Read-only. */
  get sessionKey(): string | null {
    return this.#key;
  }

  /** The value under `key`, or `fallback` (default `undefined`) when it is missing. */
  get<K extends Key<Data>>(key: K): Promise<Data[K] | undefined>;
  get<K extends Key<Data>, F>(key: K, fallback: F): Promise<Exclude<Data[K], undefined> | F>;
  async get(key: string, fallback?: unknown): Promise<unknown> {
    const data = await this.#data();
    return data.has(key) ? data.get(key) : fallback;
  }

  /** Stores a value. It must survive JSON unchanged; anything else is rejected at once. */
  async set<K extends Key<Data>>(key: K, value: Data[K]): Promise<void> {
    assertJsonValue(value, key);
    this.#write(await this.#data(), key, value);
  }

  /** Removes a data key. Resolves to false (and changes nothing) when it was missing. */
  async delete(key: Key<Data>): Promise<boolean> {
    const data = await this.#data();
    if (!data.has(key)) return false;
    this.#write(data, key, DELETED);
    return true;
  }

  /** Whether the data has `key`. */
  async has(key: Key<Data>): Promise<boolean> {
    return (await this.#data()).has(key);
  }

  /** Removes `key` and returns its value, or `fallback` (default `undefined`) when missing. */
  pop<K extends Key<Data>>(key: K): Promise<Data[K] | undefined>;
  pop<K extends Key<Data>, F>(key: K, fallback: F): Promise<Exclude<Data[K], undefined> | F>;
  async pop(key: string, fallback?: unknown): Promise<unknown> {
    const data = await this.#data();
    if (!data.has(key)) return fallback;
    const value = data.get(key);
    this.#write(data, key, DELETED);
    return value;
  }

  /** Returns the value under `key`; when missing, stores `value` first and returns it. */
  async setDefault<K extends Key<Data>>(key: K, value: Data[K]): Promise<Data[K]> {
    const data = await this.#data();
    if (data.has(key)) return data.get(key) as Data[K];
    await this.set(key, value);
    return value;
  }

  /** Stores every entry of `values`. Marks the session modified even when `values` is empty. */
  async update(values: Partial<Data>): Promise<void> {
    const entries = Object.entries(values);
    for (const [key, value] of entries) assertJsonValue(value, key);
    const data = await this.#data();
    for (const [key, value] of entries) this.#write(data, key, value);
    this.modified = true;
  }

  /** The data keys, in insertion order. */
  async keys(): Promise<Key<Data>[]> {
    return [...(await this.#data()).keys()] as Key<Data>[];
  }

  /** The data values, in insertion order. */
  async values(): Promise<Data[Key<Data>][]> {
    return [...(await this.#data()).values()] as Data[Key<Data>][];
  }

  /** The data entries, in insertion order. */
  async items(): Promise<[Key<Data>, Data[Key<Data>]][]> {
    return [...(await this.#data()).entries()] as [Key<Data>, Data[Key<Data>]][];
  }

  /** Empties the data without loading it; the key stays, so the empty session is saved. */
  async clear(): Promise<void> {
    this.#cache = new Map();
    this.#loading = undefined;
    this.#changes.clear();
    this.#cleared = true;
    this.accessed = true;
    this.modified = true;
  }

  /** True when there is no key and no data. Never loads. */
  isEmpty(): boolean {
    return this.#key === null && (this.#cache === undefined || this.#cache.size === 0);
  }

  /** Deletes the data and the stored record, and drops the key (call it on logout). */
  async flush(): Promise<void> {
    await this.clear();
    const key = this.#key;
    this.#key = null;
    this.#version = undefined;
    this.#createdAt = undefined;
    this.#storedExpiresAt = undefined;
    this.#userId = null;
    const stored = !this.#createOnSave;
    this.#createOnSave = false;
    if (key !== null && stored) await this.#deleteRecord(key);
  }

  /**
   * Keeps the data under a new key and deletes the old record (call it on login, against
   * session fixation). The new record is written by the save at the end of the request, data
   * and all: one store write for a login, where Django writes an empty record first.
   */
  async cycleKey(): Promise<void> {
    const data = await this.#data();
    const oldKey = this.#key;
    if (this.#options.backend.kind === "cookie") {
      this.modified = true;
      return;
    }
    // The new record is written once, with its data, when the session is saved (one INSERT or
    // SET NX instead of an empty create and then an update); the old record goes now, as in Django.
    const oldStored = oldKey !== null && !this.#createOnSave;
    this.#key = generateKey();
    this.#createOnSave = true;
    this.#cache = data;
    this.#version = undefined;
    this.#createdAt = undefined;
    this.#storedExpiresAt = undefined;
    this.modified = true;
    if (oldStored) await this.#deleteRecord(oldKey);
  }

  /**
   * Sets when the session expires: a number of seconds of inactivity, an absolute Date, 0 for
   * "when the browser closes", or null to return to the default (cookie.maxAge).
   */
  async setExpiry(value: ExpiryValue): Promise<void> {
    const data = await this.#data();
    if (value === null) {
      if (data.has(EXPIRY_KEY)) this.#write(data, EXPIRY_KEY, DELETED);
      return;
    }
    if (value instanceof Date) {
      if (Number.isNaN(value.getTime())) throw new TypeError("[tessera] setExpiry() got an invalid Date.");
      this.#write(data, EXPIRY_KEY, toDjangoIsoString(value));
      return;
    }
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new TypeError("[tessera] setExpiry() takes seconds (a number), a Date, 0 or null.");
    }
    this.#write(data, EXPIRY_KEY, value);
  }

  /**
   * Seconds until the session expires, measured from `modification` (default: now). With an
   * explicit `expiry` this is exactly Django's arithmetic; without one it is the session's real
   * expiry, so `idleTimeout` and `absoluteTimeout` (when set) shorten it.
   */
  async getExpiryAge(options: ExpiryOptions = {}): Promise<number> {
    const { modification, expiry, limit } = await this.#expiryInputs(options);
    return expiryAge(expiry, modification, limit, this.#options.cookie.maxAge);
  }

  /** The moment the session expires (shortened by `idleTimeout`/`absoluteTimeout` unless `expiry` is given). */
  async getExpiryDate(options: ExpiryOptions = {}): Promise<Date> {
    const { modification, expiry, limit } = await this.#expiryInputs(options);
    const date = expiresAt(expiry, modification, this.#options.cookie.maxAge);
    return new Date(limit === undefined ? date : Math.min(date, limit));
  }

  /** What both expiry getters start from: the moment, the expiry (given or stored) and, without a given one, the policies' limit. */
  async #expiryInputs(options: ExpiryOptions): Promise<{ modification: number; expiry: unknown; limit: number | undefined }> {
    const modification = toMillis(options.modification ?? this.#options.clock());
    if ("expiry" in options) return { modification, expiry: options.expiry, limit: undefined };
    return { modification, expiry: await this.#storedExpiry(), limit: this.#policyLimit(modification) };
  }

  /** Whether the cookie should last only until the browser closes. */
  async getExpireAtBrowserClose(): Promise<boolean> {
    return this.#browserClose(await this.#storedExpiry());
  }

  #browserClose(expiry: unknown): boolean {
    return expiry === undefined || expiry === null ? this.#options.expireAtBrowserClose : expiry === 0;
  }

  /**
   * @internal The Max-Age of the cookie a save sends now: undefined for a browser-session cookie,
   * else `getExpiryAge()`. Without a promise once the data is loaded, as it is at every save.
   */
  [cookieMaxAge](): number | undefined | Promise<number | undefined> {
    const cache = this.#cache;
    if (cache === undefined) return this.#data().then(() => this[cookieMaxAge]());
    const expiry = cache.get(EXPIRY_KEY);
    if (this.#browserClose(expiry)) return undefined;
    const now = this.#options.clock();
    return expiryAge(expiry, now, this.#policyLimit(now), this.#options.cookie.maxAge);
  }

  /**
   * Writes the session to the backend. Without `mustCreate` it updates the record this request
   * loaded (merging with concurrent changes) and never recreates a deleted one (`UpdateError`);
   * with it, it inserts a new record (`CreateError` if the key is taken).
   */
  async save(mustCreate = false): Promise<void> {
    const backend = this.#options.backend;
    if (backend.kind === "cookie") {
      const data = await this.#data();
      const now = this.#options.clock();
      const expiresAt = (await this.getExpiryDate({ modification: now })).getTime();
      this.#key = await backend.encode(encodeData(data), expiresAt, now, this.#options.secrets);
      this.#storedExpiresAt = expiresAt;
      this.modified = true;
      return;
    }
    if (this.#key === null) return this.create();
    if (this.#createOnSave && !mustCreate) return this.#createRecord(true);
    // Already written by this request (cycleKey's create, an explicit save) and unchanged since:
    // a second write would store the same thing.
    if (!mustCreate && this.#written && this.#changes.size === 0 && !this.#cleared && !this.#userChanged) return;
    const data = mustCreate ? (this.#cache ?? new Map<string, unknown>()) : await this.#data();
    // Loading may have found the record gone (expired, deleted): then this is a new session.
    if (this.#key === null) return this.create();
    const key = this.#key;
    if (mustCreate) {
      // A new record starts a new absolute lifetime (cycleKey on login renews it).
      this.#createdAt = undefined;
      const write = this.#snapshot(data);
      await this.#backendCall("save", () => backend.create(key, write));
      this.#version = 1;
      this.#createdAt = write.now;
      this.#storedExpiresAt = write.expiresAt;
      this.#createOnSave = false;
    } else {
      await this.#saveInTurn(key);
    }
    this.#written = true;
    this.#changes.clear();
    this.#cleared = false;
    this.#userChanged = false;
  }

  /** Whether a record exists for `key` (expired or not). */
  async exists(key: string): Promise<boolean> {
    const backend = this.#options.backend;
    if (backend.kind === "cookie") return false;
    return this.#backendCall("check", () => backend.exists(key, this.#options.clock()));
  }

  /** Gives the session a new key and saves its current data under it (retrying on a collision). */
  async create(): Promise<void> {
    return this.#createRecord(false);
  }

  /** `create`, keeping the key cycleKey chose for the first attempt when `keepKey`. */
  async #createRecord(keepKey: boolean): Promise<void> {
    if (this.#options.backend.kind === "server") {
      for (let attempt = 1; ; attempt++) {
        if (!(keepKey && attempt === 1 && this.#key !== null)) this.#key = generateKey();
        try {
          await this.save(true);
          break;
        } catch (error) {
          if (!(error instanceof CreateError)) throw error;
          if (attempt >= MAX_CREATE_ATTEMPTS) {
            throw new BackendError(
              this.#options.backend.name,
              `could not find a free session key in ${attempt} attempts; the store may be misbehaving.`,
              error,
            );
          }
        }
      }
    }
    this.modified = true;
  }

  /** Loads the data (once) and returns a copy of it. */
  async load(): Promise<Partial<Data>> {
    const copy = Object.create(null) as Record<string, unknown>;
    for (const [key, value] of await this.#data()) copy[key] = value;
    return copy as Partial<Data>;
  }

  /** Whether the data is loaded (by `await load()` or any data method), so `data` can be used. */
  get loaded(): boolean {
    return this.#cache !== undefined;
  }

  /**
   * The loaded data, read and written without an await: `session.data.cart` reads,
   * `session.data.cart = [...]` and `delete session.data.cart` are tracked writes, checked and
   * merged on save exactly like `set` and `delete`. Call `await session.load()` once first;
   * before that it throws `SessionNotLoadedError`, never a silent `undefined`.
   *
   * @example
   * await req.session.load();
   * const cart = req.session.data.cart ?? [];
   * req.session.data.cart = [...cart, "tea"];
   */
  get data(): Partial<Data> {
    if (this.#cache === undefined) {
      throw new SessionNotLoadedError(
        'session.data was used before the session was loaded. Call "await session.load()" once in the request first, or use the async methods (await session.get(key)).',
      );
    }
    this.accessed = true;
    return (this.#view ??= this.#dataView()) as Partial<Data>;
  }

  /** @internal Which `createSessions` opened this session (`sessions.of` checks it). */
  [openedBy](): ResolvedOptions {
    return this.#options;
  }

  /** @internal For the plain-property guard (`req.session.user`). */
  [loadedView](): Record<string, unknown> | undefined {
    return this.#cache === undefined ? undefined : (this.data as Record<string, unknown>);
  }

  /** The object behind `data`: every trap reads the current cache, which clear() and saves replace. */
  #dataView(): Record<string, unknown> {
    const cache = () => this.#cache as Map<string, unknown>;
    return new Proxy(Object.create(null) as Record<string, unknown>, {
      get: (_target, key) => (typeof key === "string" ? cache().get(key) : undefined),
      set: (_target, key, value) => {
        if (typeof key !== "string") return false;
        assertJsonValue(value, key);
        this.#write(cache(), key, value);
        return true;
      },
      deleteProperty: (_target, key) => {
        if (typeof key === "string" && cache().has(key)) this.#write(cache(), key, DELETED);
        return true;
      },
      has: (_target, key) => typeof key === "string" && cache().has(key),
      ownKeys: () => [...cache().keys()],
      getOwnPropertyDescriptor: (_target, key) =>
        typeof key === "string" && cache().has(key) ? { value: cache().get(key), writable: true, enumerable: true, configurable: true } : undefined,
      defineProperty: () => false,
    });
  }

  /** The app user this session is bound to (see `setUser`), or null. Loads the session. */
  async getUser(): Promise<string | null> {
    await this.#data();
    return this.#userId;
  }

  /**
   * Binds the session to an app user id (or unbinds it with null), kept in the backend's user
   * index so `sessions.listForUser` and `sessions.endAllForUser` find it. Call it on login, after
   * `cycleKey()`.
   */
  async setUser(userId: string | number | null): Promise<void> {
    const backend = this.#options.backend;
    if (backend.kind === "cookie") {
      throw gatewayOf(this.#options).unsupported("listByUser");
    }
    await this.#data();
    this.#userId = userId === null ? null : String(userId);
    this.#userChanged = true;
    this.modified = true;
  }

  /**
   * Adds a flash message: shown once, on the next request that reads flashes (typically the page
   * a redirect leads to). `message` is any JSON value; `level` is a word such as "success".
   *
   * @example
   * await req.session.flash("Saved.", "success");
   * res.redirect(303, "/");   // ...and on "/": for (const { level, message } of await req.session.flashes()) ...
   */
  async flash(message: unknown, level = "info"): Promise<void> {
    if (typeof level !== "string" || level === "") throw new TypeError('[tessera] flash() level must be a non-empty string, e.g. "success".');
    assertJsonValue(message, "flash message");
    const data = await this.#data();
    this.#write(data, FLASH_KEY, [...storedFlashes(data.get(FLASH_KEY)), { level, message }]);
  }

  /**
   * The flash messages waiting, oldest first, and removes them: each is read once. With `level`,
   * only that level's are read (and removed); the others wait. No messages: `[]`, and nothing changes.
   */
  async flashes<Message = unknown>(level?: string): Promise<FlashMessage<Message>[]> {
    const data = await this.#data();
    if (!data.has(FLASH_KEY)) return [];
    const all = storedFlashes(data.get(FLASH_KEY)) as FlashMessage<Message>[];
    const taken = level === undefined ? all : all.filter((entry) => entry.level === level);
    const kept = level === undefined ? [] : all.filter((entry) => entry.level !== level);
    // Nothing of that level: nothing changes. (A malformed entry, all.length 0, is dropped.)
    if (taken.length > 0 || all.length === 0) this.#write(data, FLASH_KEY, kept.length === 0 ? DELETED : kept);
    return taken;
  }

  /** Sets Django's test cookie value, to check on the next request that the browser keeps cookies. */
  async setTestCookie(): Promise<void> {
    this.#write(await this.#data(), TEST_COOKIE_NAME, TEST_COOKIE_VALUE);
  }

  /** Whether the test cookie set on an earlier request came back. */
  async testCookieWorked(): Promise<boolean> {
    return (await this.#data()).get(TEST_COOKIE_NAME) === TEST_COOKIE_VALUE;
  }

  /** Removes the test cookie value. */
  async deleteTestCookie(): Promise<void> {
    const data = await this.#data();
    if (data.has(TEST_COOKIE_NAME)) this.#write(data, TEST_COOKIE_NAME, DELETED);
  }

  // ---- internals ----

  #acceptKey(cookieValue: string | undefined): string | null {
    if (cookieValue === undefined || cookieValue === "") return null;
    const cookieBackend = this.#options.backend.kind === "cookie";
    // Django's rule is 8 characters or more; server keys must also be in Django's alphabet.
    if (cookieBackend ? cookieValue.length >= 8 : isValidKey(cookieValue)) return cookieValue;
    if (cookieValue.length >= 8) this.#options.logger.warn("[tessera] Ignored a malformed session cookie; the request gets an empty session.");
    return null;
  }

  /** The data, loading it on first use; every data method goes through here. */
  #data(): Promise<Map<string, unknown>> {
    this.accessed = true;
    if (this.#cache !== undefined) return Promise.resolve(this.#cache);
    // Concurrent first accesses share one load.
    this.#loading ??= this.#fetch().then((data) => {
      this.#cache ??= data;
      this.#loading = undefined;
      return this.#cache;
    });
    return this.#loading;
  }

  async #fetch(): Promise<Map<string, unknown>> {
    const key = this.#key;
    if (key === null) return this.#moveOld();
    const backend = this.#options.backend;
    const now = this.#options.clock();
    if (backend.kind === "cookie") {
      const opened = await backend.decode(key, now, this.#options.secrets);
      const data = opened && (opened.decoded ?? decodeData(opened.data));
      if (!data) {
        this.#options.logger.warn("[tessera] Session data corrupted: a session cookie failed verification; the request gets an empty session.");
        this.modified = true; // Django re-issues a clean cookie in place of the bad one.
        return new Map();
      }
      // A format with no sealed expiry (Django's) says when it was signed: idleTimeout counts from then.
      const { idleTimeout } = this.#options;
      const idleUntil = idleTimeout === undefined || opened.savedAt === undefined ? Number.POSITIVE_INFINITY : opened.savedAt + idleTimeout * 1000;
      if (now >= idleUntil) {
        this.modified = true; // clear the idle cookie
        return new Map();
      }
      if (opened.stale) this.modified = true; // verified with an older secret: re-sign with the newest
      this.#storedExpiresAt = Math.min(opened.expiresAt, idleUntil); // so the throttled touch re-signs it in time
      return data;
    }
    const record = await this.#backendCall("load", () => backend.load(key, now));
    if (record === null) {
      this.#key = null; // unknown or expired: an empty session that never creates a record
      return this.#moveOld();
    }
    if (this.#timedOut(record, now)) {
      this.#key = null;
      // Dead for good: delete it so raising the timeout later cannot bring it back.
      await this.#backendCall("delete", () => backend.delete(key, now), key).catch((error: unknown) => {
        this.#options.logger.error("[tessera] Could not delete a timed-out session; it stays unusable and clearExpired will remove it.", error);
      });
      return new Map();
    }
    this.#version = record.version;
    this.#createdAt = record.createdAt;
    this.#storedExpiresAt = record.expiresAt;
    this.#userId = record.userId;
    const data = decodeData(record.data);
    if (data === undefined) {
      this.#options.logger.warn(`[tessera] Session data corrupted: a stored ${backend.name} session did not decode; the request gets an empty session.`);
      return new Map();
    }
    return data;
  }

  /** No Tessera session: the old framework's session, moved in (see `migrateFrom`), or else an empty one. */
  async #moveOld(): Promise<Map<string, unknown>> {
    const old = this.#old;
    const data = old === undefined ? undefined : await this.#options.migrateFrom?.load(old, this.#options);
    if (data === undefined) return new Map();
    this.modified = true; // so the response saves it under a new key
    return data;
  }

  #write(data: Map<string, unknown>, key: string, value: unknown): void {
    if (value === DELETED) data.delete(key);
    else data.set(key, value);
    this.#changes.set(key, value);
    this.modified = true;
  }

  async #storedExpiry(): Promise<unknown> {
    return (await this.#data()).get(EXPIRY_KEY);
  }

  #snapshot(data: Map<string, unknown>): SessionWrite {
    const now = this.#options.clock();
    const expiry = data.get(EXPIRY_KEY);
    const limit = this.#policyLimit(now) ?? Number.POSITIVE_INFINITY;
    return { data: encodeData(data), expiresAt: Math.min(expiresAt(expiry, now, this.#options.cookie.maxAge), limit), userId: this.#userId, now };
  }

  /**
   * The latest expiry the idle and absolute timeouts allow for a save at `now` (ms), or
   * undefined when both are off. A session without a record yet is created at `now`.
   */
  #policyLimit(now: number): number | undefined {
    const { idleTimeout, absoluteTimeout } = this.#options;
    if (idleTimeout === undefined && absoluteTimeout === undefined) return undefined;
    const idle = idleTimeout === undefined ? Number.POSITIVE_INFINITY : now + idleTimeout * 1000;
    const absolute = absoluteTimeout === undefined ? Number.POSITIVE_INFINITY : (this.#createdAt ?? now) + absoluteTimeout * 1000;
    return Math.min(idle, absolute);
  }

  /**
   * Whether a stored record is past the idle or absolute timeout. Its stored expiry already
   * says so for records written under these options; this also catches records written before
   * they were set or shortened.
   */
  #timedOut(record: StoredSession, now: number): boolean {
    const { idleTimeout, absoluteTimeout } = this.#options;
    if (absoluteTimeout !== undefined && now >= record.createdAt + absoluteTimeout * 1000) return true;
    return idleTimeout !== undefined && now >= record.updatedAt + idleTimeout * 1000;
  }

  /**
   * Throttled touch (sliding expiry): whether this unchanged, loaded session should be re-saved
   * now, i.e. whether a save would move its stored expiry forward by at least `touchInterval`.
   */
  [touchDue](): boolean {
    const interval = this.#options.touchInterval;
    if (interval === undefined || this.#key === null || this.#cache === undefined || this.#storedExpiresAt === undefined) return false;
    const now = this.#options.clock();
    const next = Math.min(expiresAt(this.#cache.get(EXPIRY_KEY), now, this.#options.cookie.maxAge), this.#policyLimit(now) ?? Number.POSITIVE_INFINITY);
    return next - this.#storedExpiresAt >= interval * 1000;
  }

  /**
   * A versioned update, in turn with this process's other saves of the same key. Concurrent
   * requests of one visitor would otherwise each meet a version conflict (reload, merge, write
   * again); here the saves that queue behind a write in flight are merged, in arrival order,
   * onto what that write stored, and go out as one write. Other processes are still handled by
   * the version check: a conflict reloads and re-applies every queued save's own changes.
   */
  #saveInTurn(key: string): Promise<void> {
    let writers = WRITERS.get(this.#options);
    if (writers === undefined) WRITERS.set(this.#options, (writers = new Map()));
    let writer = writers.get(key);
    if (writer === undefined) writers.set(key, (writer = { busy: false, waiting: [], latest: undefined }));
    const queue = writer;
    return new Promise<void>((resolve, reject) => {
      queue.waiting.push({ session: this, done: (error) => (error === undefined ? resolve() : reject(error)) });
      if (!queue.busy) void Session.#drain(writers, key, queue);
    });
  }

  static async #drain(writers: Map<string, KeyWriter>, key: string, writer: KeyWriter): Promise<void> {
    writer.busy = true;
    while (writer.waiting.length > 0) {
      const batch = writer.waiting.splice(0);
      let failure: unknown;
      try {
        await Session.#writeBatch(
          writer,
          key,
          batch.map((entry) => entry.session),
        );
      } catch (error) {
        failure = error ?? new Error("save failed");
      }
      for (const entry of batch) entry.done(failure);
    }
    writer.busy = false;
    writers.delete(key);
  }

  static async #writeBatch(writer: KeyWriter, key: string, batch: Session<any>[]): Promise<void> {
    const last = batch[batch.length - 1] as Session<object>;
    const backend = last.#options.backend as ServerBackend;
    // Start from the freshest state this process knows: its own last write, or else the most
    // recently loaded of the queued sessions (each has its own changes applied already).
    const newest = batch.reduce((a, b) => ((b.#version ?? 0) > (a.#version ?? 0) ? b : a));
    const latest = writer.latest;
    let base =
      latest !== undefined && latest.version >= (newest.#version ?? 0)
        ? { version: latest.version, data: latest.data, userId: latest.userId, createdAt: latest.createdAt }
        : { version: newest.#version ?? 0, data: newest.#cache ?? new Map<string, unknown>(), userId: newest.#userId, createdAt: newest.#createdAt };
    for (let attempt = 1; ; attempt++) {
      // A lone save over its own loaded data (the usual case) writes that data as it stands: its
      // changes are in it already. Otherwise each queued save's own changes, in arrival order,
      // over a copy of the base.
      const alone = batch.length === 1 && base.data === last.#cache;
      let data = alone ? base.data : new Map(base.data);
      let userId = base.userId;
      for (const session of batch) {
        if (session.#userChanged) userId = session.#userId;
        if (alone) continue;
        if (session.#cleared) data = new Map();
        for (const [changedKey, value] of session.#changes) {
          if (value === DELETED) data.delete(changedKey);
          else data.set(changedKey, value);
        }
      }
      last.#userId = userId;
      last.#createdAt = base.createdAt;
      const write = last.#snapshot(data);
      try {
        await last.#backendCall("save", () => backend.update(key, write, base.version));
        const version = base.version + 1;
        for (const session of batch) {
          session.#version = version;
          session.#storedExpiresAt = write.expiresAt;
          session.#userId = userId;
          session.#createdAt = base.createdAt;
          // The others get their own copies: later changes of one request must not leak into
          // another's data. (The next batch copies `writer.latest` before anyone runs again.)
          session.#cache = session === last ? data : new Map(data);
        }
        writer.latest = { version, data, userId, createdAt: base.createdAt };
        return;
      } catch (error) {
        if (!(error instanceof VersionConflictError) || attempt >= MAX_MERGE_ATTEMPTS) throw error;
        countConflictMerged(last.#options);
      }
      // Another process wrote meanwhile. Many writers retry in lockstep; a little random backoff spreads them out.
      if (attempt > 2) await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, attempt * 5)));
      const fresh = await last.#backendCall("load", () => backend.load(key, last.#options.clock()));
      if (fresh === null) throw new UpdateError();
      base = { version: fresh.version, data: decodeData(fresh.data) ?? new Map(), userId: fresh.userId, createdAt: fresh.createdAt };
    }
  }

  async #deleteRecord(key: string): Promise<void> {
    const backend = this.#options.backend;
    if (backend.kind === "server") await this.#backendCall("delete", () => backend.delete(key, this.#options.clock()), key);
  }

  /** A store call through the backend gateway (`backendTimeoutMs`, failures as BackendError), counted and traced. */
  #backendCall<T>(action: string, call: () => Promise<T>, key: string | null = this.#key): Promise<T> {
    return observeBackendCall(this.#options, this.#options.backend.name, action, key, () => gatewayOf(this.#options).call(`${action} the session`, call));
  }
}

// `req.session.user` in plain JS: works once loaded, else throws saying what to call (see plain-properties.ts).
guardPlainProperties(Session.prototype, ["accessed", "modified", "hadCookie"]);

/** getExpiryAge: Django's age, shortened to the policies' `limit` (ms) when there is one. */
function expiryAge(expiry: unknown, modification: number, limit: number | undefined, cookieAge: number): number {
  const age = djangoExpiryAge(expiry, modification, cookieAge);
  // Python's timedelta days*86400 + seconds: the floor of the whole seconds.
  return limit === undefined ? age : Math.min(age, Math.floor((limit - modification) / 1000));
}

/** Django's get_expiry_age for `expiry` measured from `modification`, before any timeout policy. */
function djangoExpiryAge(expiry: unknown, modification: number, cookieAge: number): number {
  if (!expiry) return cookieAge;
  if (typeof expiry === "number") return expiry;
  const date = typeof expiry === "string" || expiry instanceof Date ? parseExpiry(expiry) : undefined;
  if (date === undefined) return cookieAge;
  return Math.floor((date - modification) / 1000);
}

/** Django's get_expiry_date: the absolute expiry (ms) of `_session_expiry` = `expiry` at `now`. */
function expiresAt(expiry: unknown, now: number, cookieAge: number): number {
  if (typeof expiry === "string" || expiry instanceof Date) {
    const date = parseExpiry(expiry);
    if (date !== undefined) return date;
  }
  const seconds = typeof expiry === "number" && expiry !== 0 ? expiry : cookieAge;
  return now + seconds * 1000;
}

function toMillis(value: Date | number): number {
  return value instanceof Date ? value.getTime() : value;
}

function parseExpiry(value: string | Date): number | undefined {
  const millis = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(millis) ? undefined : millis;
}

/** Django's `datetime.isoformat()` for an aware UTC time: microseconds, `+00:00`, no `.000000`. */
export function toDjangoIsoString(date: Date): string {
  return `${pythonDatetime(date.getTime(), "T")}+00:00`;
}
