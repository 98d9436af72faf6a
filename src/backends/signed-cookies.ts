/**
 * `signedCookieBackend({ encrypt? })`: the session lives in the cookie itself, signed (readable,
 * not forgeable) or encrypted (neither readable nor forgeable). As in Django, the cookie value is
 * the session key. Unlike Django, the expiry sealed inside the value is enforced on every load
 * (Django checks only the cookie age and ignores `set_expiry`, Trac #27775).
 *
 * Formats (every part base64url without padding, so the value is cookie-safe: `[A-Za-z0-9_.-]`):
 *
 * - Signed:    `v1.<payload>.<mac>`, mac = HMAC-SHA256(K_sign, "v1." + payload), 43 characters.
 * - Encrypted: `e1.<iv ‖ ciphertext ‖ tag>`, AES-256-GCM with K_enc, a random 96-bit IV, and
 *   "e1" as additional data (binds the version).
 *
 * The payload (plain text of the encrypted form) is the JSON `{"exp":<ms since epoch>,"data":<object>}`.
 * Keys are derived per secret: HKDF-SHA256(secret, salt "tessera", info = SIGN_LABEL or
 * ENCRYPT_LABEL below, 32 bytes), so the signing and the encryption key never coincide, nor match
 * any other use of the same secret. The newest secret seals; every secret opens, and a value
 * opened by an older one is reported `stale` so the core re-issues it (rotation without logging
 * anyone out). A value in the other format (after the app turned `encrypt` on or off) opens too
 * and is likewise re-issued in the configured format.
 *
 * No compression: compressing before encrypting would leak, through the length, how much of a
 * secret value matches attacker-chosen data (as in CRIME/BREACH).
 * @module
 */
import { Buffer } from "node:buffer";
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from "node:crypto";
import { ConfigurationError } from "../errors.js";
import { constantTimeEqual } from "../keys.js";
import type { CookieBackend } from "./base.js";
import { djangoCookieBackend } from "./django-cookies.js";

const NAME = "signed-cookies";
const SIGNED = "v1";
const ENCRYPTED = "e1";
/** HKDF labels: one per purpose and format version. */
const SIGN_LABEL = "tessera/signed-cookies/v1/hmac-sha256";
const ENCRYPT_LABEL = "tessera/signed-cookies/e1/aes-256-gcm";
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Browsers keep 4096 bytes per cookie; anything much longer is not ours, so skip the crypto. */
const MAX_VALUE_LENGTH = 8192;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Options of {@link signedCookieBackend}. */
export interface SignedCookieBackendOptions {
  /**
   * Encrypt the session (AES-256-GCM) so the browser cannot read it, instead of only signing it.
   * Either way it cannot be altered. Signed cookies show their data to anyone holding them.
   * @default false
   */
  encrypt?: boolean;
  /**
   * `"django"` reads and writes Django's own signed_cookies value (`django.core.signing`, with
   * `secret` as Django's SECRET_KEY), so a Django site and this app share one session cookie.
   * It cannot be encrypted. See `docs/django.md`.
   * @default "tessera"
   */
  format?: "tessera" | "django";
  /**
   * With `format: "django"`: Django's SESSION_COOKIE_AGE in seconds, the oldest signature accepted.
   * @default 1209600 (two weeks)
   */
  maxAge?: number;
}

/**
 * A backend with no server state: the data and its expiry travel in the cookie (at most 4096
 * bytes; a bigger session fails the response with `CookieTooLargeError`). Needs `secret`.
 * Like Django's, a copied cookie stays valid until it expires: logout cannot revoke it.
 *
 * @example
 * createSessions({ backend: signedCookieBackend({ encrypt: true }), secret: process.env.SESSION_SECRET })
 */
export function signedCookieBackend(options: SignedCookieBackendOptions = {}): CookieBackend & { readonly encrypted: boolean } {
  const encrypt = options.encrypt ?? false;
  if (typeof encrypt !== "boolean") throw new ConfigurationError("signedCookieBackend encrypt must be true or false.");
  const format = options.format ?? "tessera";
  if (format === "django") {
    if (encrypt) throw new ConfigurationError('signedCookieBackend cannot encrypt format "django": Django\'s signed_cookies value is only signed. Drop encrypt, or use the Tessera format.');
    return { ...djangoCookieBackend(options.maxAge === undefined ? {} : { maxAge: options.maxAge }), encrypted: false };
  }
  if (format !== "tessera") throw new ConfigurationError(`signedCookieBackend format must be "tessera" or "django" (it is ${JSON.stringify(format)}).`);
  if (options.maxAge !== undefined) throw new ConfigurationError('signedCookieBackend maxAge applies to format "django" only; the Tessera format seals each session\'s own expiry (set the lifetime with createSessions({ cookie: { maxAge } })).');
  const signKeys = keyCache(SIGN_LABEL);
  const encryptKeys = keyCache(ENCRYPT_LABEL);

  return {
    kind: "cookie",
    name: NAME,
    encrypted: encrypt,
    encode(data, expiresAt, _now, secrets) {
      const newest = secrets[0];
      if (newest === undefined) throw new ConfigurationError(`The ${NAME} backend needs a secret to seal the session cookie.`);
      const payload = Buffer.from(`{"exp":${JSON.stringify(expiresAt)},"data":${data}}`);
      return encrypt ? seal(encryptKeys(newest), payload) : sign(signKeys(newest), payload);
    },
    decode(value, now, secrets) {
      try {
        if (typeof value !== "string" || value.length > MAX_VALUE_LENGTH) return null;
        // Either format opens, so switching `encrypt` re-issues cookies instead of logging users out.
        const sealed = value.startsWith(`${ENCRYPTED}.`);
        for (const [index, secret] of secrets.entries()) {
          const payload = sealed ? unseal(encryptKeys(secret), value) : verify(signKeys(secret), value);
          if (payload === undefined) continue;
          const opened = parsePayload(payload, now);
          return opened === undefined ? null : { ...opened, stale: index > 0 || sealed !== encrypt };
        }
        return null;
      } catch {
        return null; // hostile input is data, not an exception
      }
    },
  };
}

function sign(key: Buffer, payload: Buffer): string {
  const message = `${SIGNED}.${payload.toString("base64url")}`;
  return `${message}.${mac(key, message)}`;
}

/** The payload if `value` is a signed value whose MAC matches under `key`. */
function verify(key: Buffer, value: string): Buffer | undefined {
  const parts = value.split(".");
  if (parts.length !== 3 || parts[0] !== SIGNED) return undefined;
  const [, payload = "", signature = ""] = parts;
  // The MAC covers the text as sent, so any changed character fails, padding bits included.
  if (!constantTimeEqual(mac(key, `${SIGNED}.${payload}`), signature)) return undefined;
  return fromBase64url(payload);
}

function mac(key: Buffer, message: string): string {
  return createHmac("sha256", key).update(message).digest("base64url");
}

function seal(key: Buffer, payload: Buffer): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(ENCRYPTED));
  const body = Buffer.concat([cipher.update(payload), cipher.final()]);
  return `${ENCRYPTED}.${Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64url")}`;
}

/** The plain text if `value` is a sealed value that authenticates under `key`. */
function unseal(key: Buffer, value: string): Buffer | undefined {
  const parts = value.split(".");
  if (parts.length !== 2 || parts[0] !== ENCRYPTED) return undefined;
  const blob = fromBase64url(parts[1] ?? "");
  if (blob === undefined || blob.length < IV_BYTES + TAG_BYTES) return undefined;
  const decipher = createDecipheriv("aes-256-gcm", key, blob.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(ENCRYPTED));
  decipher.setAuthTag(blob.subarray(blob.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(blob.subarray(IV_BYTES, blob.length - TAG_BYTES)), decipher.final()]);
  } catch {
    return undefined; // wrong key or altered: the tag does not authenticate
  }
}

/** `{ data, expiresAt }` from an authenticated payload, or undefined if malformed or expired at `now`. */
function parsePayload(payload: Buffer, now: number): { data: string; expiresAt: number } | undefined {
  const parsed = JSON.parse(payload.toString("utf8")) as unknown;
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const { exp, data } = parsed as { exp?: unknown; data?: unknown };
  if (typeof exp !== "number" || !Number.isFinite(exp) || exp <= now) return undefined;
  if (typeof data !== "object" || data === null || Array.isArray(data)) return undefined;
  // JSON.parse keeps "__proto__" as an own key, and stringify writes it back unchanged.
  return { data: JSON.stringify(data), expiresAt: exp };
}

/** Strict base64url: only the alphabet, and only the one canonical spelling of the bytes. */
function fromBase64url(text: string): Buffer | undefined {
  if (!BASE64URL.test(text)) return undefined;
  const bytes = Buffer.from(text, "base64url");
  return bytes.toString("base64url") === text ? bytes : undefined;
}

/** Derives (once per secret) the 32-byte key for `label`. */
function keyCache(label: string): (secret: string) => Buffer {
  const cache = new Map<string, Buffer>();
  return (secret) => {
    let key = cache.get(secret);
    if (key === undefined) {
      key = Buffer.from(hkdfSync("sha256", secret, "tessera", label, 32));
      if (cache.size >= 16) cache.clear(); // secrets are few; bound it anyway
      cache.set(secret, key);
    }
    return key;
  };
}
