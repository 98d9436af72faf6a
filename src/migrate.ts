/**
 * Switching to Tessera from express-session or @fastify/session without logging anyone out:
 *
 * ```ts
 * createSessions({ backend, secret, migrateFrom: fromExpressSession({ secret: OLD_SECRET, store }) });
 * ```
 *
 * A request without a Tessera session that carries the old framework's signed cookie gets the
 * old session's data on its session's first load; the response saves it under a new Tessera key,
 * clears the old cookie and deletes the old record (or leaves it, with `deleteOld: false`).
 * Every rule of the move lives in this module; the core only calls in when it opens a session,
 * when its first load finds no Tessera session, and when it commits the response.
 * @module
 */
import { toBase64url, utf8 } from "./bytes.js";
import { expiredCookie, readCookie } from "./cookie.js";
import { decodeData } from "./codec.js";
import { ConfigurationError } from "./errors.js";
import { guardedCall } from "./gateway.js";
import { portableCrypto } from "./crypto.js";
import { constantTimeEqual } from "./keys.js";
import type { ResolvedOptions } from "./options.js";

/**
 * What a migration needs of the old session store: express-session's `Store` callback API, which
 * connect-redis's `RedisStore`, connect-pg-simple's store and @fastify/session's stores all have.
 * A few lines over any other storage do as well.
 */
export interface OldSessionStore {
  /** Calls back with the stored session (an object with a `cookie` field and the app's data), or null. */
  get(sid: string, callback: (error: unknown, session?: unknown) => void): unknown;
  /** Deletes the stored session. */
  destroy(sid: string, callback?: (error?: unknown) => void): unknown;
}

/** Options shared by {@link fromExpressSession} and {@link fromFastifySession}. */
export interface OldSessionOptions {
  /**
   * The secret(s) the old framework signed its cookies with, as given to it (a string, or a list
   * whose first entry signs). Every entry is tried, in constant time.
   */
  secret: string | readonly string[];
  /** The store the old framework kept its sessions in (the same object you passed it). */
  store: OldSessionStore;
  /**
   * The old cookie's `path` and `domain`, as configured in the old framework, so that the
   * response can clear it (a browser only replaces a cookie whose path and domain match).
   * @default { path: "/" } (both frameworks' default)
   */
  cookie?: { path?: string; domain?: string };
  /**
   * Delete the old record once its data is saved in Tessera. `false` leaves it for the old app
   * (still running beside Tessera, or kept for a rollback); the old cookie is cleared either way.
   * A logout (`flush()`) in Tessera deletes the old record whatever this says.
   * @default true
   */
  deleteOld?: boolean;
}

/** Options of {@link fromExpressSession}. */
export interface ExpressSessionMigrationOptions extends OldSessionOptions {
  /**
   * express-session's `name` option.
   * @default "connect.sid"
   */
  cookieName?: string;
}

/** Options of {@link fromFastifySession}. */
export interface FastifySessionMigrationOptions extends OldSessionOptions {
  /**
   * @fastify/session's `cookieName` option.
   * @default "sessionId"
   */
  cookieName?: string;
  /**
   * @fastify/session's `cookiePrefix` option.
   * @default ""
   */
  cookiePrefix?: string;
}

/**
 * Reads the sessions of express-session, so that `createSessions({ migrateFrom })` moves them
 * into Tessera: the cookie is `s:<id>.<signature>` (cookie-signature's HMAC-SHA256) and the data
 * is read with `store.get(id)`.
 *
 * @example
 * import { RedisStore } from "connect-redis";
 * import { fromExpressSession } from "tessera-sessions/migrate";
 * const sessions = createSessions({
 *   backend: cacheBackend({ client: redis }),
 *   secret: process.env.SESSION_SECRET,
 *   migrateFrom: fromExpressSession({ secret: process.env.OLD_SESSION_SECRET!, store: new RedisStore({ client: redis }) }),
 * });
 */
export function fromExpressSession(options: ExpressSessionMigrationOptions): SessionMigration {
  return new SessionMigration("express-session", options, "fromExpressSession", "connect.sid", "s:");
}

/**
 * Reads the sessions of @fastify/session, so that `createSessions({ migrateFrom })` moves them
 * into Tessera: the cookie is `<cookiePrefix><id>.<signature>` (@fastify/cookie's HMAC-SHA256
 * signer; its other `algorithm`s and custom signers are not supported) and the data is read
 * with `store.get(id)`.
 */
export function fromFastifySession(options: FastifySessionMigrationOptions): SessionMigration {
  const prefix = options.cookiePrefix ?? "";
  if (typeof prefix !== "string") fail("fromFastifySession", "cookiePrefix must be a string, as given to @fastify/session.");
  return new SessionMigration("@fastify/session", options, "fromFastifySession", "sessionId", prefix);
}

/**
 * @internal One request's old cookie, and what became of it. `unread` until the session's first
 * load; `failed` when the old store could not be read (then nothing more happens to it).
 */
export interface OldCookie {
  readonly value: string;
  /** Whether the old cookie has Tessera's cookie name (then Tessera's new cookie replaces it). */
  readonly sameName: boolean;
  state: "unread" | "reading" | "moved" | "gone" | "failed";
  /** The verified old session id, once known. */
  id?: string;
}

/** @internal What a committed response does about its old cookie (see `SessionMigration.outcome`). */
export type MigrationOutcome = "moved" | "ended" | "gone";

/**
 * A session migration source, made by {@link fromExpressSession} or {@link fromFastifySession},
 * for the `migrateFrom` option of `createSessions`.
 */
export class SessionMigration {
  /** The old framework, for messages: "express-session" or "@fastify/session". */
  readonly from: string;
  /** The old cookie's name. */
  readonly cookieName: string;
  /** @internal The old cookie's path (for clearing it). */
  readonly cookiePath: string;
  /** @internal The old cookie's domain (for clearing it). */
  readonly cookieDomain: string | undefined;
  readonly #prefix: string;
  readonly #secrets: readonly string[];
  readonly #store: OldSessionStore;
  readonly #deleteOld: boolean;

  /** @internal Use `fromExpressSession` or `fromFastifySession`. */
  constructor(from: string, options: OldSessionOptions & { cookieName?: string }, helper: string, defaultName: string, prefix: string) {
    if (typeof options !== "object" || options === null) fail(helper, `takes an options object: ${helper}({ secret, store }).`);
    const secrets = typeof options.secret === "string" ? [options.secret] : options.secret;
    if (!Array.isArray(secrets) || secrets.length === 0 || !secrets.every((s) => typeof s === "string" && s !== "")) {
      fail(helper, `secret must be the secret (or the list of secrets) ${from} was given, to verify its cookies.`);
    }
    const { store } = options;
    if (typeof store?.get !== "function" || typeof store.destroy !== "function") {
      fail(
        helper,
        `store must be the store ${from} used (such as connect-redis's RedisStore or connect-pg-simple's store): an object with get(sid, callback) and destroy(sid, callback).`,
      );
    }
    const name = options.cookieName ?? defaultName;
    if (typeof name !== "string" || name === "") fail(helper, `cookieName must be the name of ${from}'s cookie (default "${defaultName}").`);
    const { path = "/", domain } = options.cookie ?? {};
    if (typeof path !== "string" || (domain !== undefined && typeof domain !== "string"))
      fail(helper, "cookie.path and cookie.domain must be strings, as configured in the old app.");
    if (options.deleteOld !== undefined && typeof options.deleteOld !== "boolean") fail(helper, "deleteOld must be true or false.");
    this.from = from;
    this.cookieName = name;
    this.cookiePath = path;
    this.cookieDomain = domain;
    this.#prefix = prefix;
    this.#secrets = Object.freeze([...secrets]);
    this.#store = store;
    this.#deleteOld = options.deleteOld ?? true;
  }

  /**
   * @internal The request's old cookie, if it carries one. Neither I/O nor cryptography: a
   * request without the old cookie costs one substring search of its `Cookie` header.
   * `tesseraValue` is the value under Tessera's cookie name, which is the old cookie itself when
   * both frameworks use the same name.
   */
  oldCookie(header: string | readonly string[] | undefined, sameName: boolean, tesseraValue: string | undefined): OldCookie | undefined {
    const value = sameName ? tesseraValue : readCookie(header, this.cookieName);
    if (value === undefined || !value.startsWith(this.#prefix) || !value.includes(".", this.#prefix.length)) return undefined;
    return { value, sameName, state: "unread" };
  }

  /**
   * @internal The app data of the old session, read once, on the first load of a request's
   * session that found no Tessera session; `undefined` when there is none to move (a tampered
   * cookie, an unknown or expired id). The old store failing is a `BackendError` (503).
   */
  async load(old: OldCookie, options: ResolvedOptions): Promise<Map<string, unknown> | undefined> {
    if (old.state !== "unread") return undefined;
    old.state = "reading";
    const id = await this.#verify(old, options);
    if (id === undefined) {
      old.state = "gone";
      return undefined;
    }
    let stored: unknown;
    try {
      stored = await this.#storeCall(options, "read", (done) => this.#store.get(id, done));
    } catch (error) {
      old.state = "failed";
      throw error;
    }
    const data = this.#appData(stored, options);
    old.state = data === undefined ? "gone" : "moved";
    return data;
  }

  /**
   * @internal What the response does about the old cookie. Decided before the commit saves
   * (which gives the session a key), from the session as the handler left it:
   * - `moved`: the old data was loaded into a session that a response under 500 saves now;
   * - `ended`: the session was flushed or cleared (a logout), whether or not it had loaded;
   * - `gone`: the old cookie leads nowhere (tampered, unknown, expired), so it is cleared;
   * - `undefined`: nothing (an untouched session, a 5xx, an old store that failed).
   */
  outcome(old: OldCookie, session: { isEmpty(): boolean; readonly accessed: boolean }, status: number): MigrationOutcome | undefined {
    const emptied = session.accessed && session.isEmpty();
    switch (old.state) {
      case "moved":
        return emptied ? "ended" : status < 500 ? "moved" : undefined;
      case "unread":
        // Only clear() (flush) touches a session without loading it.
        return emptied ? "ended" : undefined;
      case "gone":
        return "gone";
      default:
        return undefined;
    }
  }

  /**
   * @internal Carries out `outcome` once the commit has saved: deletes the old record when the
   * rules say so (a failure is logged: the old cookie is cleared all the same, so nothing reads
   * that record again) and resolves to the `Set-Cookie` values to add. `tesseraCookie` is
   * whether the commit sets Tessera's cookie.
   */
  async settle(old: OldCookie, outcome: MigrationOutcome, options: ResolvedOptions, tesseraCookie: boolean): Promise<readonly string[]> {
    // Under a shared cookie name, a new Tessera cookie replaces the old one, and clearing it
    // afterwards would delete the new one.
    const clear = old.sameName && tesseraCookie ? [] : [expiredCookie(this.cookieName, { path: this.cookiePath, domain: this.cookieDomain })];
    if (outcome === "gone") return clear;
    // A logout must also end the old session, or the next request would move it in again.
    const id = outcome === "ended" && old.state === "unread" ? await this.#verify(old, options) : old.id;
    if (id !== undefined && (outcome === "ended" || this.#deleteOld)) {
      await this.#storeCall(options, "delete", (done) => this.#store.destroy(id, done)).catch((error: unknown) => {
        options.logger.error(
          `[tessera] Could not delete a moved ${this.from} session from its store; its cookie is cleared, and the store's expiry will remove it.`,
          error,
        );
      });
    }
    return clear;
  }

  /** The old session id when `old` is validly signed by one of the secrets, else undefined (and a warning). */
  async #verify(old: OldCookie, options: ResolvedOptions): Promise<string | undefined> {
    const signed = old.value.slice(this.#prefix.length);
    const dot = signed.lastIndexOf(".");
    const id = signed.slice(0, dot);
    const signature = signed.slice(dot + 1);
    let valid = false;
    // Every secret is tried, so the time taken does not tell which one matched.
    for (const secret of this.#secrets) {
      // cookie-signature's form: HMAC-SHA256 in standard base64 without its padding.
      const expected = toBase64url(await portableCrypto.hmacSha256(utf8(secret), id))
        .replace(/-/g, "+")
        .replace(/_/g, "/");
      if (constantTimeEqual(expected, signature)) valid = true;
    }
    if (valid && id !== "") return (old.id = id);
    options.logger.warn(
      `[tessera] Ignored the ${this.from} cookie: it failed verification (tampered, or signed with a secret migrateFrom was not given), so nothing was moved.`,
    );
    return undefined;
  }

  /**
   * The app's data in a stored old session: everything but the framework's `cookie` field, as
   * JSON (which is what the old JSON stores kept). Undefined for no session or an expired one.
   */
  #appData(stored: unknown, options: ResolvedOptions): Map<string, unknown> | undefined {
    if (stored === null || stored === undefined) return undefined;
    if (typeof stored !== "object" || Array.isArray(stored)) {
      options.logger.warn(`[tessera] The ${this.from} store returned something that is not a session; nothing was moved.`);
      return undefined;
    }
    const { cookie, ...data } = stored as Record<string, unknown>;
    // The stores check expiry too (Redis TTL, connect-pg-simple's expire column); this uses Tessera's clock.
    const expires = typeof cookie === "object" && cookie !== null ? (cookie as { expires?: unknown }).expires : undefined;
    if ((typeof expires === "string" || expires instanceof Date) && new Date(expires).getTime() <= options.clock()) return undefined;
    let text: string;
    try {
      text = JSON.stringify(data);
    } catch {
      options.logger.warn(`[tessera] A ${this.from} session holds data JSON cannot store (a cycle or a BigInt); nothing was moved.`);
      return undefined;
    }
    return decodeData(text);
  }

  /** A callback-style call of the old store, as a guarded store call (backendTimeoutMs, BackendError 503). */
  #storeCall(options: ResolvedOptions, action: "read" | "delete", call: (done: (error: unknown, value?: unknown) => void) => unknown): Promise<unknown> {
    const run = () =>
      new Promise<unknown>((resolve, reject) => {
        const done = (error: unknown, value?: unknown) => {
          // File-based stores report a missing session as ENOENT.
          if (error && (error as { code?: unknown }).code !== "ENOENT") reject(error as Error);
          else resolve(error ? null : value);
        };
        const returned = call(done);
        // Stores that also return a promise (connect-redis) settle the callback first; a rejection is a failure all the same.
        if (returned instanceof Promise) returned.catch(reject);
      });
    return guardedCall(`${this.from} store`, options.backendTimeoutMs)(`${action} the old session`, run);
  }
}

function fail(helper: string, message: string): never {
  throw new ConfigurationError(`${helper}: ${message}`);
}
