/**
 * `createSessions`: opens sessions and applies Django's middleware rules when a response is
 * committed. Every adapter goes through `commit`, so every framework behaves the same.
 * @module
 */
import { utf8Length } from "./bytes.js";
import { deletionCookie, MAX_COOKIE_BYTES, readCookie, sessionCookie } from "./cookie.js";
import { decodeData } from "./codec.js";
import { CookieTooLargeError, SessionInterruptedError, UpdateError } from "./errors.js";
import { gatewayOf } from "./gateway.js";
import { hashKey } from "./keys.js";
import { resolveOptions, type ResolvedOptions, type SessionsOptions } from "./options.js";
import { observeCommit, observeCommitSync, readMetrics, type SessionMetrics } from "./observe.js";
import { cookieMaxAge, oldCookie, Session, touchDue, type SessionData } from "./session.js";
import { sessionOf, type SessionCarrier } from "./carrier.js";

/** What the adapter must add to the response. */
export interface CommitResult {
  /** A `Set-Cookie` header value to append, if any. */
  readonly setCookie: string | undefined;
  /** Whether to add `Cookie` to `Vary` (see `varyWithCookie`). */
  readonly varyCookie: boolean;
  /**
   * More `Set-Cookie` values to append after `setCookie`: a migration's removal of the old
   * framework's cookie (see the `migrateFrom` option). Absent when there are none.
   */
  readonly extraSetCookies?: readonly string[];
}

/** One session of a user, as `listForUser` reports it. */
export interface UserSessionInfo {
  /** A stable id for the session that is not its key (`hashKey(key)`): safe to show and to post back. */
  readonly id: string;
  readonly createdAt: Date;
  /** The last time the session was saved. */
  readonly updatedAt: Date;
  readonly expiresAt: Date;
  /** Whether this is the `current` session passed to `listForUser`. */
  readonly current: boolean;
  /** The session's data, e.g. the user agent or IP address the app chose to record in it. */
  readonly data: Record<string, unknown>;
}

/** The session machinery built by {@link createSessions}. */
export interface Sessions<Data extends object = SessionData> {
  /** The options after defaults. */
  readonly options: ResolvedOptions;
  /**
   * A session for the request's cookie value: `undefined` or `null` when the request had no
   * cookie (both mean the same, on every backend). No I/O.
   */
  open(cookieValue?: string | null): Session<Data>;
  /**
   * The request's session, typed by this object's data type (no global declaration needed):
   * `sessions.of(req)` for Express and node:http, `sessions.of(ctx)` for Koa,
   * `sessions.of(request)` for Fastify, `sessions.of(c)` for Hono. Throws `ConfigurationError`
   * when the adapter did not run for the request, or was given another `createSessions` object.
   *
   * @example
   * const sessions = createSessions<{ cart: string[] }>({ backend });
   * app.use(sessionMiddleware(sessions));
   * app.get("/", async (req, res) => res.json(await sessions.of(req).get("cart", [])));
   */
  of(carrier: SessionCarrier): Session<Data>;
  /** Like `open`, reading the session cookie from a raw `Cookie` header. */
  openFromHeader(cookieHeader: string | readonly string[] | undefined): Session<Data>;
  /**
   * Applies Django's response rules to a finished request: saves the session if needed and
   * says which headers to add. Call it once, before the response headers are sent.
   * Throws `SessionInterruptedError` (400) when the session was deleted meanwhile.
   */
  commit(session: Session<Data>, status: number): Promise<CommitResult>;
  /**
   * `commit` without waiting, for adapters: the result when committing needs no I/O (the
   * session was not modified, so nothing is saved), or `undefined` when it does: then await
   * `commit`. Untouched and read-only requests then go out without an extra tick.
   */
  tryCommitSync(session: Session<Data>, status: number): CommitResult | undefined;
  /**
   * The live sessions of an app user (bound with `session.setUser`), most recently active first.
   * Pass the request's session as `current` to have it flagged.
   */
  listForUser(userId: string | number, options?: { current?: Session<Data> }): Promise<UserSessionInfo[]>;
  /**
   * Ends every session of an app user ("sign out everywhere", a password change), except
   * `options.except` (the request's own session, to stay signed in here). Returns how many ended.
   */
  endAllForUser(userId: string | number, options?: { except?: Session<Data> }): Promise<number>;
  /**
   * Ends one of a user's sessions by the `id` that `listForUser` reported ("sign out that device").
   * Scoped to the user, so an id posted back by one user can never end another user's session.
   * Resolves to whether a session was ended.
   */
  endSession(userId: string | number, id: string): Promise<boolean>;
  /**
   * Counts since this object was created: backend loads, saves, deletes, conflicting saves that
   * were merged, and store errors. A fresh snapshot each call, for a metrics exporter to read.
   */
  metrics(): SessionMetrics;
  /** Deletes expired sessions and returns how many (0 for backends that expire on their own). */
  clearExpired(): Promise<number>;
  /** Creates or upgrades the backend's schema (what `tessera migrate` runs). */
  migrate(): Promise<void>;
  /** Releases the backend's connections. */
  close(): Promise<void>;
}

/**
 * Creates the session machinery from options (see `SessionsOptions`). Every option is checked
 * here, so a configuration mistake fails at startup with a message saying how to fix it.
 *
 * @example
 * const sessions = createSessions<{ username?: string }>({
 *   backend: databaseBackend({ url: "sqlite:sessions.sqlite3" }),
 *   secret: process.env.SESSION_SECRET,
 * });
 */
export function createSessions<Data extends object = SessionData>(options?: SessionsOptions): Sessions<Data> {
  const resolved = resolveOptions(options);
  // The one guarded backend every call below, every Session, the admin and the CLI go through.
  const store = gatewayOf(resolved);
  const { migrateFrom } = resolved;
  // null is what many cookie parsers and `Map.get`-style lookups give for "absent": same as undefined.
  const open = (cookieValue?: string | null) => new Session<Data>(resolved, cookieValue ?? undefined);
  const sameCookieName = migrateFrom?.cookieName === resolved.cookie.name;
  return {
    options: resolved,
    open,
    openFromHeader: (header) => {
      const value = readCookie(header, resolved.cookie.name);
      const old = migrateFrom?.oldCookie(header, sameCookieName, value);
      // Under a shared cookie name, an old cookie is not a Tessera key (nor worth a warning).
      return old === undefined ? open(value) : new Session<Data>(resolved, old.sameName ? undefined : value, old);
    },
    of: (carrier) => sessionOf<Data>(resolved, carrier),
    commit: (session, status) =>
      observeCommit(resolved.backend.name, session.sessionKey, status, async () => {
        const old = session[oldCookie];
        // Decided before the save, which gives the session a key.
        const outcome = old && migrateFrom?.outcome(old, session, status);
        const result = await commit(resolved, session, status);
        if (!old || !outcome || !migrateFrom) return result;
        const extraSetCookies = await migrateFrom.settle(old, outcome, resolved, result.setCookie !== undefined);
        return extraSetCookies.length === 0 ? result : { ...result, extraSetCookies };
      }),
    tryCommitSync: (session, status) => {
      const old = session[oldCookie];
      // Settling a migration may delete the old record: that is for `commit`.
      if (old && migrateFrom?.outcome(old, session, status)) return undefined;
      const planned = plan(resolved, session, status);
      return typeof planned === "object" ? observeCommitSync(resolved.backend.name, session.sessionKey, status, planned) : undefined;
    },
    metrics: () => readMetrics(resolved),
    listForUser: async (userId, listOptions) => {
      const records = await store.listByUser(String(userId), resolved.clock());
      const currentId = idOf(listOptions?.current);
      return records
        .map((record) => ({
          id: record.id,
          createdAt: new Date(record.createdAt),
          updatedAt: new Date(record.updatedAt),
          expiresAt: new Date(record.expiresAt),
          current: record.id === currentId,
          data: Object.fromEntries(decodeData(record.data) ?? []),
        }))
        .sort((a, b) => b.updatedAt.getTime() - a.updatedAt.getTime());
    },
    endAllForUser: async (userId, endOptions) => store.deleteByUser(String(userId), idOf(endOptions?.except)),
    endSession: async (userId, id) => {
      const owned = await store.listByUser(String(userId), resolved.clock());
      if (!owned.some((record) => record.id === id)) return false;
      await store.deleteById(id);
      return true;
    },
    clearExpired: async () => store.clearExpired(resolved.clock()),
    migrate: async () => store.migrate(),
    close: async () => {
      await resolved.backend.close?.();
    },
  };
}

function idOf(session: { readonly sessionKey: string | null } | undefined): string | undefined {
  const key = session?.sessionKey;
  return key ? hashKey(key) : undefined;
}

// The answers that need no Set-Cookie, allocated once: most requests end with one of them.
const NOTHING: CommitResult = Object.freeze({ setCookie: undefined, varyCookie: false });
const VARY_ONLY: CommitResult = Object.freeze({ setCookie: undefined, varyCookie: true });

/**
 * Django's SessionMiddleware.process_response up to the save: the headers to add when no save
 * is needed, else "save" (the request changed the session) or "touch" (sliding expiry is due).
 * Never does I/O, so adapters can answer most requests without waiting.
 */
function plan<Data extends object>(options: ResolvedOptions, session: Session<Data>, status: number): CommitResult | "save" | "touch" {
  // Read before anything touches the session, as Django does.
  const { accessed, modified } = session;
  const empty = session.isEmpty();
  if (session.hadCookie && empty) return { setCookie: deletionCookie(options), varyCookie: true };
  if (empty || status >= 500) return accessed ? VARY_ONLY : NOTHING;
  if (modified || options.saveEveryRequest) return "save";
  // Sliding expiry (idleTimeout): an unchanged session that was used is re-saved now and then.
  if (session[touchDue]()) return "touch";
  return accessed ? VARY_ONLY : NOTHING;
}

/** Django's SessionMiddleware.process_response: `plan`, then the save and its cookie. */
async function commit<Data extends object>(options: ResolvedOptions, session: Session<Data>, status: number): Promise<CommitResult> {
  const planned = plan(options, session, status);
  if (typeof planned === "object") return planned;
  const { accessed } = session;
  const pendingMaxAge = session[cookieMaxAge]();
  const maxAge = pendingMaxAge instanceof Promise ? await pendingMaxAge : pendingMaxAge;
  try {
    await session.save();
  } catch (error) {
    // A touch carries no change of this request's, so a session deleted meanwhile just stays deleted.
    if (error instanceof UpdateError && planned === "touch") return accessed ? VARY_ONLY : NOTHING;
    if (error instanceof UpdateError) throw new SessionInterruptedError({ cause: error });
    throw error;
  }
  const setCookie = sessionCookie(options, session.sessionKey ?? "", maxAge);
  const size = utf8Length(setCookie);
  if (size > MAX_COOKIE_BYTES) throw new CookieTooLargeError(size);
  return { setCookie, varyCookie: accessed };
}
