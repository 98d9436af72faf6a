/**
 * Tessera: Django-style sessions for TypeScript web apps.
 * @module
 */
export { createSessions, type CommitResult, type Sessions, type UserSessionInfo } from "./manager.js";
export type { FlashMessage } from "./flash.js";
export { channelNames, type SessionMetrics, type BackendCallContext, type CommitContext } from "./observe.js";
export { Session, type SessionData, type AppSessionData, type RequestSessionData, type ExpiryValue, type ExpiryOptions } from "./session.js";
export type { SessionsOptions, CookieOptions, SameSite, Logger, ResolvedOptions } from "./options.js";
export type {
  SessionBackend,
  ServerBackend,
  CookieBackend,
  AsyncCookieBackend,
  CookieOpened,
  StoredSession,
  SessionWrite,
  SessionListQuery,
  SessionListPage,
} from "./backends/base.js";
export { readCookie, varyWithCookie } from "./cookie.js";
export { generateKey, hashKey, isValidKey } from "./keys.js";
export {
  SessionError,
  ConfigurationError,
  MissingDependencyError,
  CreateError,
  UpdateError,
  VersionConflictError,
  SessionInterruptedError,
  BackendError,
  DeadlineError,
  InvalidValueError,
  CookieTooLargeError,
  ReadOnlySessionError,
  SessionNotLoadedError,
} from "./errors.js";
