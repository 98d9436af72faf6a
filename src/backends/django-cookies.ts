/**
 * Sessions in Django's `signed_cookies` format, so a Django site and a Node service on the same
 * domain, cookie name and `SECRET_KEY` read and write one session cookie. (The pinned entry point
 * is `signedCookieBackend({ format: "django" })`; this module does the work.)
 *
 * The cookie value is exactly what Django's engine writes: `django.core.signing.dumps(data,
 * salt="django.contrib.sessions.backends.signed_cookies", compress=True)`, i.e.
 * `[.]<base64url(json or zlib)>:<base62 seconds>:<HMAC-SHA256>` (see `src/django/signing.ts`).
 * It is signed, not encrypted: the browser can read the data.
 *
 * Secrets are Tessera's `secret` option, newest first, as Django's `SECRET_KEY` then
 * `SECRET_KEY_FALLBACKS`: the newest signs, each verifies, and a cookie verified by an older one
 * is re-signed with the newest on the same response.
 *
 * Expiry: like Django, a cookie whose signature is older than the cookie age (`maxAge`, Django's
 * SESSION_COOKIE_AGE) is rejected. Unlike Django (Trac #27775), an expiry set with
 * `setExpiry`/`set_expiry` (`_session_expiry` in the data) is enforced too: a date in the past,
 * or more seconds since the last save than the number given, makes the cookie load as empty.
 * Tessera's `idleTimeout` is enforced the same way, from the signature's time (the last save):
 * a replayed copy idle that long loads as empty, and a cookie in use is re-signed in time.
 * @module
 */
import { ConfigurationError } from "../errors.js";
import { describeValue } from "../options.js";
import { parsePythonJson, pythonJson, SIGNED_COOKIES_SALT, signingRuntime, signPayload, unsignPayload } from "../django/signing.js";
import type { AsyncCookieBackend } from "./base.js";

/** Options of {@link djangoCookieBackend}. */
export interface DjangoCookieBackendOptions {
  /**
   * The longest a cookie is accepted after it was last signed, in seconds: Django's
   * SESSION_COOKIE_AGE, which its signed_cookies engine uses as the signature's max age. Use the
   * same value as Tessera's `cookie.maxAge` and Django's setting.
   * @default 1209600 (two weeks)
   */
  maxAge?: number;
}

/** Django's cookie alphabet (base64url, ".", ":"); anything else cannot be ours. */
const VALUE = /^\.?[A-Za-z0-9_-]+:[0-9A-Za-z-]+:[A-Za-z0-9_-]{43}$/;
/** Browsers keep 4096 bytes per cookie; anything much longer is not ours, so skip the crypto. */
const MAX_VALUE_LENGTH = 8192;
/**
 * The most a cookie's compressed payload may inflate to: 16 times the 4096 bytes a browser keeps,
 * far beyond what real session JSON compresses by, so a tiny cookie cannot cost megabytes of work.
 */
export const MAX_INFLATED_BYTES = 65_536;

/**
 * A {@link CookieBackend} that reads and writes Django's signed_cookies session cookie.
 *
 * @example
 * const sessions = createSessions({
 *   backend: djangoCookieBackend({ maxAge: 1209600 }),
 *   secret: [process.env.DJANGO_SECRET_KEY!, ...fallbacks],
 *   cookie: { name: "sessionid", maxAge: 1209600 },
 * });
 */
export function djangoCookieBackend(options: DjangoCookieBackendOptions = {}): AsyncCookieBackend {
  const maxAge = options.maxAge ?? 1_209_600;
  if (typeof maxAge !== "number" || !Number.isInteger(maxAge) || maxAge < 0) {
    throw new ConfigurationError(
      `djangoCookieBackend maxAge must be a whole number of seconds (Django's SESSION_COOKIE_AGE), 0 or more (it is ${describeValue(maxAge)}).`,
    );
  }
  signingRuntime(); // a runtime without Node's crypto and zlib fails here, at startup
  return {
    kind: "cookie",
    name: "django-signed-cookies",
    async decode(value, now, secrets) {
      if (value.length > MAX_VALUE_LENGTH || !VALUE.test(value) || secrets.length === 0) return null;
      try {
        const { json, timestamp, secretIndex } = unsignPayload(value, {
          secrets,
          salt: SIGNED_COOKIES_SALT,
          maxAge,
          now,
          maxInflatedBytes: MAX_INFLATED_BYTES,
        });
        const data = parsePythonJson(json).value;
        const signedAt = timestamp * 1000;
        let expiresAt = signedAt + maxAge * 1000; // unsignPayload already rejected an older signature
        const expiry = isRecord(data) ? data["_session_expiry"] : undefined;
        if (typeof expiry === "string") {
          const date = Date.parse(expiry);
          if (!Number.isNaN(date)) {
            if (date <= now) return null;
            expiresAt = Math.min(expiresAt, date);
          }
        } else if (typeof expiry === "number" && expiry !== 0) {
          // Seconds of inactivity, counted from the last save (the signature's time), strictly as Django's max_age.
          if (now - signedAt > expiry * 1000) return null;
          expiresAt = Math.min(expiresAt, signedAt + expiry * 1000);
        }
        // savedAt lets the core enforce idleTimeout, which the format has no field for.
        return { data: JSON.stringify(data), expiresAt, stale: secretIndex > 0, savedAt: signedAt };
      } catch {
        // Any failure (bad signature, bad JSON, too deep, too big) is hostile data: an empty session, never a 500.
        return null;
      }
    },
    async encode(data, _expiresAt, now, secrets) {
      const secret = secrets[0];
      if (secret === undefined) throw new ConfigurationError("The Django signed-cookie backend needs a secret: pass Django's SECRET_KEY as secret.");
      // The expiry is not sealed in: Django's format has no place for it beyond `_session_expiry`.
      return signPayload(pythonJson(JSON.parse(data)), { secret, salt: SIGNED_COOKIES_SALT, compress: true, now });
    },
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
