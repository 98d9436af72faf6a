/**
 * The options of `createSessions`, their defaults (Django's, except `secure`), and the checks
 * that turn a configuration mistake into a clear error at startup.
 * @module
 */
import type { SessionBackend } from "./backends/base.js";
import { lazyServerBackend, SQL_TABLE_METHODS } from "./backends/lazy.js";
import { ConfigurationError } from "./errors.js";
import { GENERATE_SECRET, MIN_SECRET_BYTES, secretProblem } from "./keys.js";
import { SessionMigration } from "./migrate.js";
import { absolutePath, nodeBuiltin } from "./runtime.js";

/** Where Tessera reports tampered data and swallowed failures. `console` fits. */
export interface Logger {
  warn(message: string): void;
  error(message: string, error?: unknown): void;
}

/** The `SameSite` attribute: `false` leaves it out. */
export type SameSite = "lax" | "strict" | "none" | false;

/** Cookie settings, each named after Django's `SESSION_COOKIE_*` setting. */
export interface CookieOptions {
  /**
   * The cookie's name (SESSION_COOKIE_NAME).
   * @default "sessionid"
   */
  name?: string;
  /**
   * Session lifetime in seconds when `setExpiry` was not called (SESSION_COOKIE_AGE).
   * @default 1209600 (two weeks)
   */
  maxAge?: number;
  /**
   * The cookie's `Domain`, e.g. `".example.com"` to share it with subdomains (SESSION_COOKIE_DOMAIN).
   * @default undefined (host-only)
   */
  domain?: string;
  /**
   * The cookie's `Path` (SESSION_COOKIE_PATH).
   * @default "/"
   */
  path?: string;
  /**
   * Send the cookie over HTTPS only (SESSION_COOKIE_SECURE). Turn off only for plain-http development.
   * @default true
   */
  secure?: boolean;
  /**
   * Hide the cookie from page scripts (SESSION_COOKIE_HTTPONLY).
   * @default true
   */
  httpOnly?: boolean;
  /**
   * The cookie's `SameSite` (SESSION_COOKIE_SAMESITE); `"none"` requires `secure`.
   * @default "lax"
   */
  sameSite?: SameSite | "Lax" | "Strict" | "None";
}

/** Options of {@link createSessions}. */
export interface SessionsOptions {
  /**
   * Where sessions are stored (SESSION_ENGINE).
   * @default databaseBackend({ url: "sqlite:sessions.sqlite3" }) in the working directory
   * @example backend: databaseBackend({ url: "postgres://localhost/app" })
   */
  backend?: SessionBackend;
  /**
   * Secret(s) of at least 32 bytes, newest first; older ones only verify (SECRET_KEY and
   * SECRET_KEY_FALLBACKS). Required by backends that sign or seal cookies.
   * @example secret: [process.env.SESSION_SECRET, process.env.OLD_SESSION_SECRET]
   */
  secret?: string | readonly string[] | undefined;
  /** Cookie settings. */
  cookie?: CookieOptions;
  /**
   * Save the session and refresh its cookie on every request, not only when it changed
   * (SESSION_SAVE_EVERY_REQUEST).
   * @default false
   */
  saveEveryRequest?: boolean;
  /**
   * Make session cookies last until the browser closes, unless `setExpiry` says otherwise
   * (SESSION_EXPIRE_AT_BROWSER_CLOSE).
   * @default false
   */
  expireAtBrowserClose?: boolean;
  /**
   * The time in milliseconds since the epoch. Every expiry decision uses it.
   * @default () => Date.now()
   */
  clock?: () => number;
  /**
   * Receives security warnings (tampered data) and errors Tessera recovers from.
   * @default console
   */
  logger?: Logger;
  /**
   * How long one backend call (load, save, delete...) may take, in milliseconds, before the
   * session gives up with a `BackendError` (status 503) instead of holding the request until the
   * client times out. The call itself is not cancelled; its late result is ignored. `0` turns
   * the limit off.
   * @default 5000
   * @example backendTimeoutMs: 2000
   */
  backendTimeoutMs?: number;
  /**
   * Idle timeout, in seconds: a session not used for this long expires, whatever its cookie age.
   * Each request that reads or writes the session slides the expiry forward (an unchanged session
   * is re-saved at most once per `touchInterval`); a request that never touches its session does
   * no I/O and does not count as use. The cookie's Max-Age follows the same expiry. Not Django
   * behaviour (there, an unchanged session's expiry never moves), so off by default.
   * @default undefined (off)
   * @example idleTimeout: 30 * 60 // signed out after 30 minutes without activity
   */
  idleTimeout?: number;
  /**
   * Absolute timeout, in seconds: a session older than this (counted from when its record was
   * created, which `cycleKey()` on login renews) loads as empty, however active it is.
   * Needs a server-side backend (the record's creation time is what is measured).
   * @default undefined (off)
   * @example absoluteTimeout: 12 * 60 * 60 // sign in again at least every 12 hours
   */
  absoluteTimeout?: number;
  /**
   * With `idleTimeout`: the least number of seconds between two saves of an unchanged session.
   * A request that only reads the session re-saves it (and refreshes its cookie) only when that
   * would move its expiry forward by at least this much, so sliding expiry costs one write per
   * interval, not one per request. The price: a session may expire up to this much earlier than
   * `idleTimeout` after its last use. `0` re-saves on every request that uses the session.
   * @default idleTimeout / 10
   * @example touchInterval: 60
   */
  touchInterval?: number;
  /**
   * Moves the sessions of the framework Tessera replaces, so nobody is logged out by the switch
   * (see docs/migrating.md). A request without a Tessera session that carries the old signed
   * cookie gets the old session's data on its first load; the response saves it under a new
   * Tessera key and clears the old cookie. Requests without the old cookie cost nothing extra.
   * Works through the framework adapters (`openFromHeader`), not `open(cookieValue)`.
   * @default undefined (off)
   * @example migrateFrom: fromExpressSession({ secret: process.env.OLD_SECRET, store: new RedisStore({ client }) })
   */
  migrateFrom?: SessionMigration | undefined;
}

/** Options after defaults and checks. */
export interface ResolvedOptions {
  readonly backend: SessionBackend;
  readonly secrets: readonly string[];
  readonly cookie: {
    readonly name: string;
    readonly maxAge: number;
    readonly domain: string | undefined;
    readonly path: string;
    readonly secure: boolean;
    readonly httpOnly: boolean;
    readonly sameSite: SameSite;
  };
  readonly saveEveryRequest: boolean;
  readonly expireAtBrowserClose: boolean;
  readonly clock: () => number;
  readonly logger: Logger;
  /** Milliseconds a backend call may take; `Infinity` when off. */
  readonly backendTimeoutMs: number;
  /** Seconds, or undefined when off. */
  readonly idleTimeout: number | undefined;
  /** Seconds, or undefined when off. */
  readonly absoluteTimeout: number | undefined;
  /** Seconds; undefined exactly when `idleTimeout` is. */
  readonly touchInterval: number | undefined;
  /** The session framework being migrated from, if any. */
  readonly migrateFrom: SessionMigration | undefined;
}

/** The file the default backend uses, relative to the working directory. */
export const DEFAULT_SQLITE_FILE = "sessions.sqlite3";

/** What to do instead of the default SQLite file, for the messages that refuse it. */
const OTHER_STORE =
  'Set a path the process can write: backend: databaseBackend({ url: "sqlite:/tmp/sessions.sqlite3" }) from "tessera-sessions/backends/db", ' +
  'or pick another backend: signedCookieBackend() from "tessera-sessions/backends/signed-cookies" (no storage needed), a database or a cache by URL.';

/**
 * The default backend writes sessions.sqlite3 (and SQLite's -wal and -shm files beside it) in
 * the working directory. Where that directory is read-only (serverless functions) or there is no
 * file system (edge runtimes), say so at startup instead of failing on the first session saved.
 */
function refuseUnwritableDefault(): void {
  const fs = nodeBuiltin<typeof import("node:fs")>("node:fs");
  const cwd = nodeBuiltin<typeof import("node:process")>("node:process")?.cwd;
  if (!fs || !cwd)
    fail(`No backend was given, and the default (a SQLite file, ${DEFAULT_SQLITE_FILE}) needs a file system, which this runtime has none of. ${OTHER_STORE}`);
  let directory = ".";
  try {
    directory = cwd(); // Deno without --allow-read refuses even this
    fs.accessSync(directory, fs.constants.W_OK);
  } catch (error) {
    const reason = (error as { code?: unknown }).code === "EROFS" ? "it is on a read-only file system" : "this process may not write there";
    fail(
      `No backend was given, and the default (a SQLite file, ${DEFAULT_SQLITE_FILE}, in the working directory ${directory}) cannot be created: ${reason}, as on serverless platforms. ${OTHER_STORE}`,
    );
  }
}

/** A cookie name is an RFC 7230 token (RFC 6265 section 4.1.1). */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A path or domain attribute must not contain controls or `;` (RFC 6265 section 4.1.1). */
const ATTRIBUTE_VALUE = /^[\u0020-\u003A\u003C-\u007E]+$/;

function fail(message: string): never {
  throw new ConfigurationError(message);
}

// Every option name, checked complete against the interfaces by the compiler: JavaScript callers
// get no type check, so a misspelt key must fail here instead of being silently ignored.
const OPTION_NAMES = Object.keys({
  backend: true,
  secret: true,
  cookie: true,
  saveEveryRequest: true,
  expireAtBrowserClose: true,
  clock: true,
  logger: true,
  backendTimeoutMs: true,
  idleTimeout: true,
  absoluteTimeout: true,
  touchInterval: true,
  migrateFrom: true,
} satisfies Record<keyof SessionsOptions, true>);
const COOKIE_OPTION_NAMES = Object.keys({
  name: true,
  maxAge: true,
  domain: true,
  path: true,
  secure: true,
  httpOnly: true,
  sameSite: true,
} satisfies Record<keyof CookieOptions, true>);

/** How a bad value is shown in a message: a string is said to be one, since "it is 3600" would hide that. */
export function describeValue(value: unknown): string {
  return typeof value === "string" ? `the string ${JSON.stringify(value)}` : String(value);
}

/** Edit distance (insertions, deletions, substitutions), case-insensitive, for "did you mean". */
function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const current = [i];
    for (let j = 1; j <= y.length; j++) {
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[y.length] ?? 0;
}

/** Fails on the first key of `given` not in `names`, naming the nearest valid option. */
function rejectUnknownOptions(given: object, names: readonly string[], where: "" | "cookie."): void {
  for (const key of Object.keys(given)) {
    if (names.includes(key)) continue;
    // A cookie setting put at the top level is a likely slip too, so those are candidates there.
    const candidates = where === "" ? [...names, ...COOKIE_OPTION_NAMES.map((name) => `cookie.${name}`)] : names.map((name) => `cookie.${name}`);
    const bare = (candidate: string) => candidate.replace(/^cookie\./, "");
    const nearest = candidates.reduce((best, candidate) => (editDistance(key, bare(candidate)) < editDistance(key, bare(best)) ? candidate : best));
    fail(
      `Unknown option ${where}${key}: did you mean ${nearest}? The ${where === "" ? "options of createSessions" : "cookie options"} are ${names.join(", ")}.`,
    );
  }
}

function isPlainObject(value: unknown): value is object {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Applies defaults and rejects every mistake with a message that says how to fix it. */
export function resolveOptions(options: SessionsOptions = {}): ResolvedOptions {
  if (!isPlainObject(options)) fail(`createSessions takes an options object, such as { backend, secret } (it got ${describeValue(options)}).`);
  rejectUnknownOptions(options, OPTION_NAMES, "");
  const cookie = options.cookie ?? {};
  if (!isPlainObject(cookie)) fail(`cookie must be an object of cookie settings, such as { secure: false } (it is ${describeValue(cookie)}).`);
  rejectUnknownOptions(cookie, COOKIE_OPTION_NAMES, "cookie.");
  const name = cookie.name ?? "sessionid";
  if (typeof name !== "string" || !COOKIE_NAME.test(name)) {
    fail(`cookie.name ${JSON.stringify(name)} is not a valid cookie name: use letters, digits and !#$%&'*+-.^_\`|~ only.`);
  }
  const maxAge = cookie.maxAge ?? 1_209_600;
  if (typeof maxAge !== "number" || !Number.isInteger(maxAge) || maxAge < 0) {
    fail(`cookie.maxAge must be a whole number of seconds, 0 or more (it is ${describeValue(maxAge)}). The default is 1209600 (two weeks).`);
  }
  const path = cookie.path ?? "/";
  if (typeof path !== "string" || !ATTRIBUTE_VALUE.test(path)) {
    fail(`cookie.path ${JSON.stringify(path)} is invalid: give a path such as "/" without ";" or control characters.`);
  }
  const domain = cookie.domain;
  if (domain !== undefined && (typeof domain !== "string" || !ATTRIBUTE_VALUE.test(domain))) {
    fail(`cookie.domain ${JSON.stringify(domain)} is invalid: give a host such as ".example.com", or leave it out.`);
  }
  const secure = cookie.secure ?? true;
  const httpOnly = cookie.httpOnly ?? true;
  if (typeof secure !== "boolean" || typeof httpOnly !== "boolean") {
    fail("cookie.secure and cookie.httpOnly must be true or false.");
  }
  const sameSite = normalizeSameSite(cookie.sameSite);
  if (sameSite === "none" && !secure) {
    fail('cookie.sameSite "none" requires cookie.secure: true (browsers reject SameSite=None cookies without Secure).');
  }
  // Cookie prefixes (RFC 6265bis section 4.1.3): browsers drop such cookies unless these hold.
  if ((name.startsWith("__Secure-") || name.startsWith("__Host-")) && !secure) {
    fail(`cookie.name "${name}" has a __Secure-/__Host- prefix, which requires cookie.secure: true.`);
  }
  if (name.startsWith("__Host-") && (domain !== undefined || path !== "/")) {
    fail(`cookie.name "${name}" has the __Host- prefix, which requires cookie.path "/" and no cookie.domain.`);
  }

  const secrets = resolveSecrets(options.secret);
  if (options.backend === undefined) refuseUnwritableDefault();
  const backend = options.backend ?? defaultBackend();
  if (!isBackend(backend)) {
    fail(
      'backend must be a Tessera backend, such as databaseBackend({ url }) from "tessera-sessions/backends/db" or memoryBackend() from "tessera-sessions/backends/memory".',
    );
  }
  if (backend.kind === "cookie" && secrets.length === 0) {
    fail(
      `The ${backend.name} backend signs the session into the cookie and needs a secret: pass secret (at least ${MIN_SECRET_BYTES} bytes), e.g. from an environment variable. Generate one with: ${GENERATE_SECRET}`,
    );
  }
  for (const flag of ["saveEveryRequest", "expireAtBrowserClose"] as const) {
    // "false" would be truthy: only real booleans are taken.
    if (options[flag] !== undefined && typeof options[flag] !== "boolean") fail(`${flag} must be true or false (it is ${describeValue(options[flag])}).`);
  }
  const clock = options.clock ?? Date.now;
  if (typeof clock !== "function") fail("clock must be a function returning milliseconds since the epoch, like Date.now.");
  const backendTimeoutMs = resolveBackendTimeout(options.backendTimeoutMs);
  const { idleTimeout, absoluteTimeout, touchInterval } = resolveExpiryPolicies(options, backend);
  const migrateFrom = resolveMigration(options.migrateFrom, backend, { name, path, domain });

  return {
    backend,
    secrets,
    cookie: { name, maxAge, domain, path, secure, httpOnly, sameSite },
    saveEveryRequest: options.saveEveryRequest ?? false,
    expireAtBrowserClose: options.expireAtBrowserClose ?? false,
    clock,
    logger: options.logger ?? console,
    backendTimeoutMs,
    idleTimeout,
    absoluteTimeout,
    touchInterval,
    migrateFrom,
  };
}

function resolveMigration(
  value: unknown,
  backend: SessionBackend,
  cookie: { name: string; path: string; domain: string | undefined },
): SessionMigration | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof SessionMigration)) {
    fail(
      'migrateFrom must come from fromExpressSession({ secret, store }) or fromFastifySession({ secret, store }), imported from "tessera-sessions/migrate".',
    );
  }
  if (value.cookieName !== cookie.name) return value;
  // One cookie name for both: the new Tessera cookie must land exactly on the old one, and a
  // cookie backend's values could be mistaken for the old framework's.
  if (backend.kind === "cookie") {
    fail(
      `migrateFrom's cookie and Tessera's cookie are both named "${cookie.name}", which needs a server-side backend (the ${backend.name} backend's values could be taken for ${value.from}'s). Give Tessera its own cookie.name.`,
    );
  }
  if (value.cookiePath !== cookie.path || value.cookieDomain !== cookie.domain) {
    fail(
      `migrateFrom's cookie and Tessera's cookie are both named "${cookie.name}" but differ in path or domain, so the browser would keep both. Give them the same cookie path and domain, or Tessera its own cookie.name.`,
    );
  }
  return value;
}

/**
 * The default backend, `databaseBackend({ url: "sqlite:sessions.sqlite3" })`. Its SQL, driver
 * and schema load on the first session read or write, so an app that names its own backend
 * never loads them (its URL is fixed, so there is no option to check at startup).
 */
function defaultBackend(): SessionBackend {
  return lazyServerBackend({ name: "sqlite", dialect: "sqlite", sqliteFile: absolutePath(DEFAULT_SQLITE_FILE) }, SQL_TABLE_METHODS, async () =>
    (await import("./backends/db/index.js")).databaseBackend({ url: `sqlite:${DEFAULT_SQLITE_FILE}` }),
  );
}

/** The longest delay setTimeout honours; beyond it Node fires at once. */
const MAX_TIMER_MS = 2_147_483_647;

function resolveBackendTimeout(value: number | undefined): number {
  if (value === undefined) return 5000;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > MAX_TIMER_MS) {
    fail(
      `backendTimeoutMs must be a number of milliseconds from 1 to ${MAX_TIMER_MS}, or 0 for no limit (it is ${describeValue(value)}). The default is 5000.`,
    );
  }
  return value === 0 ? Number.POSITIVE_INFINITY : value;
}

function resolveExpiryPolicies(options: SessionsOptions, backend: SessionBackend): Pick<ResolvedOptions, "idleTimeout" | "absoluteTimeout" | "touchInterval"> {
  const seconds = (name: string, value: unknown): number | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
      fail(`${name} must be a whole number of seconds above 0, or left out to turn it off (it is ${describeValue(value)}).`);
    }
    return value;
  };
  const idleTimeout = seconds("idleTimeout", options.idleTimeout);
  const absoluteTimeout = seconds("absoluteTimeout", options.absoluteTimeout);
  if (absoluteTimeout !== undefined && backend.kind === "cookie") {
    fail(
      `absoluteTimeout needs a server-side backend: the ${backend.name} backend keeps no record of when a session was created. Use the database, cache, file or memory backend, or leave absoluteTimeout out.`,
    );
  }
  if (absoluteTimeout !== undefined && backend.kind === "server" && backend.keepsCreationTime === false) {
    fail(
      `absoluteTimeout cannot be enforced by the ${backend.name} backend: Django's session table keeps no creation time (each save would restart the clock). Use Tessera's own table (databaseBackend without format: "django"), or leave absoluteTimeout out and rely on idleTimeout and cookie.maxAge.`,
    );
  }
  const interval = options.touchInterval;
  if (interval === undefined) return { idleTimeout, absoluteTimeout, touchInterval: idleTimeout === undefined ? undefined : idleTimeout / 10 };
  if (idleTimeout === undefined) fail("touchInterval only applies with idleTimeout (sliding expiry): set idleTimeout too, or leave touchInterval out.");
  if (typeof interval !== "number" || !Number.isFinite(interval) || interval < 0 || interval >= idleTimeout) {
    // At or past the idle timeout, a session in use could expire before its next touch.
    fail(
      `touchInterval must be a number of seconds from 0 up to (not including) idleTimeout ${idleTimeout} (it is ${describeValue(interval)}). The default is idleTimeout / 10.`,
    );
  }
  return { idleTimeout, absoluteTimeout, touchInterval: interval };
}

function normalizeSameSite(value: CookieOptions["sameSite"] | undefined): SameSite {
  if (value === undefined) return "lax";
  if (value === false) return false;
  const lower = typeof value === "string" ? value.toLowerCase() : value;
  if (lower === "lax" || lower === "strict" || lower === "none") return lower;
  return fail(`cookie.sameSite must be "lax", "strict", "none" or false (it is ${JSON.stringify(value)}).`);
}

function resolveSecrets(secret: SessionsOptions["secret"]): readonly string[] {
  if (secret === undefined) return [];
  const list = typeof secret === "string" ? [secret] : secret;
  if (!Array.isArray(list)) fail("secret must be a string or an array of strings, newest first.");
  for (const [i, s] of list.entries()) {
    const problem = secretProblem(s);
    if (problem !== undefined) fail(`secret${list.length > 1 ? `[${i}]` : ""} ${problem}`);
  }
  return Object.freeze([...list]);
}

function isBackend(value: unknown): value is SessionBackend {
  const kind = (value as { kind?: unknown } | null)?.kind;
  return typeof value === "object" && value !== null && (kind === "server" || kind === "cookie");
}
