/**
 * Reading Django's login from a shared session: which Django user is logged in, and whether the
 * session's `_auth_user_hash` still matches the user's password (Django logs a session out when
 * the password changed since login; a Node service can apply the same rule).
 * @module
 */
import { constantTimeEqual } from "../keys.js";
import { saltedHmac } from "./signing.js";

/** The session keys `django.contrib.auth.login()` writes. */
export const DJANGO_AUTH_KEYS = {
  userId: "_auth_user_id",
  backend: "_auth_user_backend",
  hash: "_auth_user_hash",
} as const;

/** The salt of `AbstractBaseUser.get_session_auth_hash()`. */
const SESSION_AUTH_HASH_SALT = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash";

/** A Django login found in a session. */
export interface DjangoLogin {
  /** The user's primary key, as Django stores it (a string, e.g. "1"). */
  readonly userId: string;
  /** The dotted path of the authentication backend that logged the user in. */
  readonly backend: string | undefined;
  /** The HMAC of the user's password hash at login time (hex). */
  readonly hash: string | undefined;
}

/**
 * The Django user logged in to `session`, or null when nobody is. Loads the session.
 *
 * @example
 * const login = await djangoLogin(req.session);
 * if (login) res.end(`Django user ${login.userId}`);
 */
export async function djangoLogin(session: { load(): Promise<object> }): Promise<DjangoLogin | null> {
  const data = (await session.load()) as Record<string, unknown>;
  const userId = data[DJANGO_AUTH_KEYS.userId];
  if (typeof userId !== "string" && typeof userId !== "number") return null;
  const backend = data[DJANGO_AUTH_KEYS.backend];
  const hash = data[DJANGO_AUTH_KEYS.hash];
  return { userId: String(userId), backend: typeof backend === "string" ? backend : undefined, hash: typeof hash === "string" ? hash : undefined };
}

/**
 * Django's `user.get_session_auth_hash()`: HMAC-SHA256 (salted as Django salts it) of the
 * user's stored password hash (the `auth_user.password` column), in hex.
 */
export function djangoSessionAuthHash(passwordHash: string, secret: string): string {
  return saltedHmac(SESSION_AUTH_HASH_SALT, passwordHash, secret).toString("hex");
}

/**
 * Whether a login's `_auth_user_hash` matches the user's current password hash under any of
 * `secrets` (Django's `SECRET_KEY`, then its fallbacks). False means the password changed since
 * login (or the hash is missing): treat the user as logged out, as Django does.
 */
export function verifyDjangoLogin(login: DjangoLogin, passwordHash: string, secrets: string | readonly string[]): boolean {
  if (login.hash === undefined) return false;
  const hash = login.hash;
  const list = typeof secrets === "string" ? [secrets] : secrets;
  return list.some((secret) => constantTimeEqual(hash, djangoSessionAuthHash(passwordHash, secret)));
}
