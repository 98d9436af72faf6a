/**
 * `tessera-sessions/csrf`: CSRF protection as a helper, the signed double-submit token the
 * session admin uses, for an app's own forms.
 *
 * - Edge-safe: no `node:` import; HMAC is node:crypto where the runtime has it, else @noble/hashes (src/crypto.ts).
 * - The browser gets a random cookie (`csrftoken`: 32 CSPRNG bytes, `HttpOnly`).
 * - Each form carries HMAC-SHA256(key, cookie value + the session's id) in a hidden field; a POST
 *   is accepted only when the field matches the cookie it came with (compared in constant time).
 *   Another site can neither read the token nor mint one for a cookie it planted: it lacks the key.
 * - Tokens are bound to the server-side session key, so `cycleKey()` (login) and `flush()`
 *   (logout) rotate them. A token issued before the visitor had any session stays valid until a
 *   user is bound (`setUser`), so a session started in another tab does not break the form.
 *
 * @example
 * const csrf = createCsrf(sessions);
 * // rendering a form (after any change to the session in this request):
 * const { token, setCookie } = await csrf.issue(req.headers.cookie, req.session);
 * if (setCookie) res.appendHeader("Set-Cookie", setCookie);
 * html`<input type="hidden" name="${csrf.fieldName}" value="${token}">`;
 * // on every POST, before acting:
 * if (!(await csrf.verify(req.headers.cookie, form.get(csrf.fieldName), req.session))) return res.writeHead(403).end();
 * @module
 */
import { serialize } from "cookie";
import { toBase64url } from "./bytes.js";
import { readCookie } from "./cookie.js";
import { hmacSha256Sync, randomBytes } from "./crypto.js";
import { ConfigurationError } from "./errors.js";
import { constantTimeEqual, hashKey, secretProblem } from "./keys.js";

/** The session, as far as CSRF needs it: its key (loaded first) and whether it is about to be created. */
interface CsrfSession {
  readonly sessionKey: string | null;
  readonly modified: boolean;
  load(): Promise<unknown>;
  save(): Promise<void>;
  getUser(): Promise<string | null>;
}

/** What `issue` returns. */
export interface IssuedToken {
  /** The token for this browser: put it in the form's hidden field (or the `X-CSRF-Token` header). */
  readonly token: string;
  /** A `Set-Cookie` header value to add to the response when the browser has no CSRF cookie yet. */
  readonly setCookie: string | undefined;
}

/** Options of {@link csrfProtection}. */
export interface CsrfProtectionOptions {
  /** The HMAC key (32+ bytes). */
  key: string;
  /** The cookie's name. @default "csrftoken" */
  cookieName?: string;
  /** The cookie's path. @default "/" */
  path?: string;
  /** The cookie's SameSite. @default "lax" */
  sameSite?: "lax" | "strict";
  /** Whether the cookie is `Secure` (sent over HTTPS only). @default true */
  secure?: boolean;
}

/** The CSRF helper: issue a token for a form, verify a submitted one. */
export interface CsrfProtection {
  /** The form field the token is expected in: `"csrf"`. */
  readonly fieldName: string;
  /** The header a script can send the token in instead: `"x-csrf-token"`. */
  readonly headerName: string;
  /** The CSRF cookie's name. */
  readonly cookieName: string;
  /**
   * The token for this browser (and session), and the cookie to set when the browser has none.
   * Call it after the request's changes to the session: a server-side session about to be
   * created is saved first, so the token is bound to its key. `secure` overrides the option for
   * this response (e.g. from the request's protocol).
   */
  issue(cookieHeader: string | readonly string[] | null | undefined, session?: CsrfSession, options?: { secure?: boolean }): Promise<IssuedToken>;
  /**
   * Whether `submitted` is the token for this request's CSRF cookie and session. A missing or
   * malformed cookie or token is `false`; it throws only what loading the session throws (a
   * `BackendError`, 503, when the store is down).
   */
  verify(cookieHeader: string | readonly string[] | null | undefined, submitted: string | null | undefined, session?: CsrfSession): Promise<boolean>;
  /** @internal HMAC-SHA256 of `message` with the key (base64url), for other values the same page must bind (the admin's notices). */
  sign(message: string): string;
}

/** A CSRF cookie value as issued: 32 random bytes, base64url. Anything else is no cookie. */
const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/;

/**
 * The signed double-submit core, with an explicit key and cookie. Apps use {@link createCsrf};
 * the session admin builds on this with its own cookie.
 */
export function csrfProtection(options: CsrfProtectionOptions): CsrfProtection {
  const { key } = options;
  const problem = secretProblem(key);
  if (problem !== undefined) throw new ConfigurationError(`The CSRF key ${problem}`);
  const cookieName = options.cookieName ?? "csrftoken";
  const cookie = { path: options.path ?? "/", sameSite: options.sameSite ?? "lax", secure: options.secure ?? true, httpOnly: true } as const;
  // Validates the name and attributes at startup rather than on the first form.
  serialize(cookieName, "x", cookie);
  const sign = (message: string) => toBase64url(hmacSha256Sync(key, message));
  const tokenFor = (cookieValue: string, binding: string) => sign(`tessera.csrf\n${cookieValue}\n${binding}`);
  const cookieOf = (header: string | readonly string[] | null | undefined) => {
    const value = readCookie(header ?? undefined, cookieName);
    return value !== undefined && COOKIE_VALUE.test(value) ? value : undefined;
  };

  return {
    fieldName: "csrf",
    headerName: "x-csrf-token",
    cookieName,
    sign,
    async issue(cookieHeader, session, issueOptions) {
      const existing = cookieOf(cookieHeader);
      const value = existing ?? toBase64url(randomBytes(32));
      const setCookie = existing === undefined ? serialize(cookieName, value, { ...cookie, secure: issueOptions?.secure ?? cookie.secure }) : undefined;
      return { token: tokenFor(value, await bindingOf(session, true)), setCookie };
    },
    async verify(cookieHeader, submitted, session) {
      const value = cookieOf(cookieHeader);
      if (value === undefined || typeof submitted !== "string" || submitted === "") return false;
      const binding = await bindingOf(session, false);
      if (constantTimeEqual(submitted, tokenFor(value, binding))) return true;
      // A form shown before the visitor had a session (bound to "") stays good while no user is
      // bound: another tab may have started an anonymous session meanwhile. Login (cycleKey +
      // setUser) ends that.
      return binding !== "" && session !== undefined && (await session.getUser()) === null && constantTimeEqual(submitted, tokenFor(value, ""));
    },
  };
}

/**
 * What a token is bound to besides the cookie: the id of the session's server-side key (so a new
 * key, at login or logout, makes a new token), or "" without one.
 */
async function bindingOf(session: CsrfSession | undefined, issuing: boolean): Promise<string> {
  if (session === undefined) return "";
  await session.load(); // an expired or unknown key loads as no key
  // A new session saved at the end of this request: create it now, so the form is bound to its key.
  if (issuing && session.sessionKey === null && session.modified) await session.save();
  return session.sessionKey === null ? "" : hashKey(session.sessionKey);
}

/** Options of {@link createCsrf}. */
export interface CsrfOptions {
  /**
   * The HMAC key (32+ bytes). Set it when the sessions have no `secret`.
   * @default derived from the sessions' newest secret
   */
  key?: string;
  /** @default "csrftoken" */
  cookieName?: string;
  /** @default "/" */
  path?: string;
  /** @default "lax" */
  sameSite?: "lax" | "strict";
  /** @default the session cookie's `secure` */
  secure?: boolean;
}

/** The part of `createSessions`' result the CSRF helper needs. */
interface SessionsLike {
  readonly options: {
    readonly backend: { readonly kind: "server" | "cookie" };
    readonly secrets: readonly string[];
    readonly cookie: { readonly secure: boolean };
  };
}

/** Derives a purpose-bound key from the sessions' newest secret, so a CSRF token is never a valid signature elsewhere. */
export function deriveCsrfKey(secret: string, purpose: string): string {
  return toBase64url(hmacSha256Sync(secret, purpose));
}

/**
 * CSRF protection for an app's forms, on the sessions' key: `issue` a token when rendering a
 * form, `verify` it on every POST (answer 403 when it fails). On server-side backends tokens are
 * bound to the session key, so `cycleKey()` and `flush()` rotate them; signed-cookie sessions
 * change their cookie on every save, so there tokens are bound to the CSRF cookie alone.
 * Throws `ConfigurationError` at startup when there is neither `key` nor a sessions secret.
 */
export function createCsrf(sessions: SessionsLike, options: CsrfOptions = {}): CsrfProtection {
  const secret = sessions?.options?.secrets?.[0];
  const key = options.key ?? (secret === undefined ? undefined : deriveCsrfKey(secret, "tessera.csrf"));
  if (key === undefined) {
    throw new ConfigurationError(
      "createCsrf needs a key: give createSessions a secret (32+ bytes, e.g. from SESSION_SECRET), or pass createCsrf(sessions, { key }).",
    );
  }
  const core = csrfProtection({
    key,
    ...(options.cookieName === undefined ? {} : { cookieName: options.cookieName }),
    ...(options.path === undefined ? {} : { path: options.path }),
    ...(options.sameSite === undefined ? {} : { sameSite: options.sameSite }),
    secure: options.secure ?? sessions.options.cookie.secure,
  });
  if (sessions.options.backend.kind === "server") return core;
  // A signed-cookie session's key is its cookie value, new on every save: bind to the cookie only.
  return {
    ...core,
    issue: (header, _session, issueOptions) => core.issue(header, undefined, issueOptions),
    verify: (header, submitted) => core.verify(header, submitted),
  };
}
