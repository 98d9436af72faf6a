/**
 * Tessera's error classes. Code branches on the class (or `code`), never on message text.
 * @module
 */

/** Base class of every error Tessera throws. */
export class SessionError extends Error {
  /** A stable, machine-readable name for the failure. */
  readonly code: string;
  /** The HTTP status an adapter uses when this error ends a request. */
  readonly status: number;

  constructor(code: string, message: string, options?: { cause?: unknown; status?: number }) {
    super(`[tessera] ${message}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = options?.status ?? 500;
  }
}

/** A mistake in the options or the environment, raised at startup. The message says how to fix it. */
export class ConfigurationError extends SessionError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("CONFIGURATION", message, options);
  }
}

/** An optional peer dependency (a database driver, a framework) is not installed. */
export class MissingDependencyError extends ConfigurationError {
  readonly packageName: string;

  constructor(packageName: string, feature: string, cause?: unknown) {
    super(`${feature} needs the "${packageName}" package. Install it with: npm install ${packageName}`, { cause });
    this.packageName = packageName;
  }
}

/** `save(true)` found the key already taken; `create()` retries with a new key (Django's CreateError). */
export class CreateError extends SessionError {
  constructor(message = "A session with this key already exists.") {
    super("CREATE_COLLISION", message);
  }
}

/** `save()` found the record gone: someone deleted it while this request ran (Django's UpdateError). */
export class UpdateError extends SessionError {
  constructor(message = "The session record no longer exists, so it was not updated.") {
    super("UPDATE_MISSING", message);
  }
}

/**
 * The stored record changed since this request loaded it (its version moved on). The session
 * reloads, re-applies its own changes key by key, and saves again.
 */
export class VersionConflictError extends SessionError {
  constructor() {
    // 503: when merging gives up, retrying the request is the right answer.
    super("VERSION_CONFLICT", "The session kept changing under concurrent requests; the request may be retried.", { status: 503 });
  }
}

/**
 * The session was deleted (logout in another tab, `flush()`, admin) before this request could
 * save it. Adapters answer 400, as Django's SessionInterrupted does; the session is not resurrected.
 */
export class SessionInterruptedError extends SessionError {
  constructor(options?: { cause?: unknown }) {
    super(
      "SESSION_INTERRUPTED",
      "The request's session was deleted before the request completed. The user may have logged out in a concurrent request, for example.",
      { ...options, status: 400 },
    );
  }
}

/** The session store failed (down, timed out, refused). The app decides the status; the default is 503. */
export class BackendError extends SessionError {
  readonly backend: string;

  constructor(backend: string, message: string, cause?: unknown) {
    super("BACKEND_FAILURE", `[${backend}] ${message}`, { cause, status: 503 });
    this.backend = backend;
  }
}

/**
 * A store call got no answer in time (`backendTimeoutMs`, or a backend's own deadline). It is a
 * BackendError, so it is answered with 503 like any other outage.
 */
export class DeadlineError extends BackendError {
  /** The limit that passed, in milliseconds. */
  readonly ms: number;

  constructor(backend: string, message: string, ms: number) {
    super(backend, message);
    // Shown as the outage it is: logs and error pages that print `name` (or branch on `code`)
    // see one BackendError; `instanceof DeadlineError` tells a timeout apart.
    this.name = "BackendError";
    this.ms = ms;
  }
}

/**
 * A write to a session that can only be read where it is used: a Next.js Server Component,
 * which renders after the response headers are decided, so no cookie can be set from it.
 */
export class ReadOnlySessionError extends SessionError {
  constructor(message: string) {
    super("READ_ONLY_SESSION", message);
  }
}

/** A value given to `set()` cannot be stored as JSON (a function, a BigInt, a cycle, a class instance...). */
export class InvalidValueError extends SessionError {
  constructor(message: string) {
    super("INVALID_VALUE", message);
  }
}

/** The session cookie would exceed the 4096 bytes browsers keep, so it would be silently dropped. */
export class CookieTooLargeError extends SessionError {
  readonly size: number;

  constructor(size: number) {
    super(
      "COOKIE_TOO_LARGE",
      `The session cookie would be ${size} bytes, over the 4096 bytes browsers accept. Store less in the session, or use a server-side backend (database, cache, file) that keeps only the key in the cookie.`,
    );
    this.size = size;
  }
}

/**
 * Data was read or written synchronously (`session.data`, or a plain `req.session.user`) before
 * the session was loaded. The message says what to call instead.
 */
export class SessionNotLoadedError extends SessionError {
  constructor(message: string) {
    super("NOT_LOADED", message);
  }
}
