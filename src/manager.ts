/**
 * `createSessions`: opens sessions and applies Django's middleware rules when a response is
 * committed. Every adapter goes through `commit`, so every framework behaves the same.
 * @module
 */
import { Buffer } from "node:buffer";
import { deletionCookie, MAX_COOKIE_BYTES, readCookie, sessionCookie } from "./cookie.js";
import { CookieTooLargeError, SessionInterruptedError, UpdateError } from "./errors.js";
import { resolveOptions, type ResolvedOptions, type SessionsOptions } from "./options.js";
import { Session, type SessionData } from "./session.js";

/** What the adapter must add to the response. */
export interface CommitResult {
  /** A `Set-Cookie` header value to append, if any. */
  readonly setCookie: string | undefined;
  /** Whether to add `Cookie` to `Vary` (see `varyWithCookie`). */
  readonly varyCookie: boolean;
}

/** The session machinery built by {@link createSessions}. */
export interface Sessions<Data extends object = SessionData> {
  /** The options after defaults. */
  readonly options: ResolvedOptions;
  /** A session for the request's cookie value (`undefined` when the request had no cookie). No I/O. */
  open(cookieValue?: string): Session<Data>;
  /** Like `open`, reading the session cookie from a raw `Cookie` header. */
  openFromHeader(cookieHeader: string | readonly string[] | undefined): Session<Data>;
  /**
   * Applies Django's response rules to a finished request: saves the session if needed and
   * says which headers to add. Call it once, before the response headers are sent.
   * Throws `SessionInterruptedError` (400) when the session was deleted meanwhile.
   */
  commit(session: Session<Data>, status: number): Promise<CommitResult>;
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
  const { backend } = resolved;
  const open = (cookieValue?: string) => new Session<Data>(resolved, cookieValue);
  return {
    options: resolved,
    open,
    openFromHeader: (header) => open(readCookie(header, resolved.cookie.name)),
    commit: (session, status) => commit(resolved, session, status),
    clearExpired: async () => (backend.kind === "server" && backend.clearExpired ? backend.clearExpired(resolved.clock()) : 0),
    migrate: async () => {
      if (backend.kind === "server") await backend.migrate?.();
    },
    close: async () => {
      await backend.close?.();
    },
  };
}

/** Django's SessionMiddleware.process_response, step by step. */
async function commit<Data extends object>(options: ResolvedOptions, session: Session<Data>, status: number): Promise<CommitResult> {
  // Captured before anything below touches the session, as Django does.
  const { accessed, modified } = session;
  const empty = session.isEmpty();
  if (session.hadCookie && empty) return { setCookie: deletionCookie(options), varyCookie: true };
  if (!(modified || options.saveEveryRequest) || empty || status >= 500) return { setCookie: undefined, varyCookie: accessed };

  const maxAge = (await session.getExpireAtBrowserClose()) ? undefined : await session.getExpiryAge();
  try {
    await session.save();
  } catch (error) {
    if (error instanceof UpdateError) throw new SessionInterruptedError({ cause: error });
    throw error;
  }
  const setCookie = sessionCookie(options, session.sessionKey ?? "", maxAge);
  const size = Buffer.byteLength(setCookie);
  if (size > MAX_COOKIE_BYTES) throw new CookieTooLargeError(size);
  return { setCookie, varyCookie: accessed };
}
