/**
 * `signedCookieBackend({ encrypt? })`: the session lives in the cookie itself, signed (readable,
 * not forgeable) or encrypted (neither readable nor forgeable). As in Django, the cookie value is
 * the session key. Unlike Django, the expiry sealed inside the value is enforced on every load
 * (Django checks only the cookie age and ignores `set_expiry`, Trac #27775).
 *
 * Formats (every part base64url without padding, so the value is cookie-safe: `[A-Za-z0-9_.-]`):
 *
 * - Signed:    `v1.<payload>.<mac>`, mac = HMAC-SHA256(K_sign, "v1." + payload), 43 characters.
 * - Encrypted: `e2.<salt ‖ ciphertext ‖ tag>`, AES-256-GCM with a key and IV of this cookie's
 *   own: HKDF-SHA256(secret, salt = 128 random bits, info = E2_LABEL) gives 32 bytes of key and
 *   12 of IV, and "e2" is the additional data (binds the version). One key per cookie, so no
 *   key ever nears GCM's usage limit (2^32 messages per key with random IVs, NIST SP 800-38D);
 *   salts repeat only after about 2^64 cookies.
 * - Encrypted, old: `e1.<iv ‖ ciphertext ‖ tag>`, AES-256-GCM with one key per secret (K_enc), a
 *   random 96-bit IV and "e1" as additional data. Still opened, reported `stale`, so the core
 *   re-issues it as e2; never written.
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
const ENCRYPTED = "e2";
/** The encrypted format before per-cookie keys: opened, never written. */
const ENCRYPTED_V1 = "e1";
/** HKDF labels: one per purpose and format version. */
const SIGN_LABEL = "tessera/signed-cookies/v1/hmac-sha256";
const ENCRYPT_V1_LABEL = "tessera/signed-cookies/e1/aes-256-gcm";
const ENCRYPT_LABEL = "tessera/signed-cookies/e2/aes-256-gcm";
const KEY_BYTES = 32;
const IV_BYTES = 12;
/** The per-cookie HKDF salt of e2: 128 random bits. */
const SALT_BYTES = 16;
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
  const encryptV1Keys = keyCache(ENCRYPT_V1_LABEL);

  return {
    kind: "cookie",
    name: NAME,
    encrypted: encrypt,
    encode(data, expiresAt, _now, secrets) {
      const newest = secrets[0];
      if (newest === undefined) throw new ConfigurationError(`The ${NAME} backend needs a secret to seal the session cookie.`);
      const payload = Buffer.from(`{"exp":${JSON.stringify(expiresAt)},"data":${data}}`);
      return encrypt ? seal(newest, payload) : sign(signKeys(newest), payload);
    },
    decode(value, now, secrets) {
      try {
        if (typeof value !== "string" || value.length > MAX_VALUE_LENGTH) return null;
        // Either format opens, so switching `encrypt` re-issues cookies instead of logging users out.
        const version = value.slice(0, value.indexOf("."));
        const sealed = version === ENCRYPTED || version === ENCRYPTED_V1;
        for (const [index, secret] of secrets.entries()) {
          const payload =
            version === ENCRYPTED ? unseal(secret, value) : version === ENCRYPTED_V1 ? unsealV1(encryptV1Keys(secret), value) : verify(signKeys(secret), value);
          if (payload === undefined) continue;
          const opened = parsePayload(payload, now);
          // An e1 value is re-issued as e2, like a value of the other format or an older secret's.
          return opened === undefined ? null : { ...opened, stale: index > 0 || sealed !== encrypt || version === ENCRYPTED_V1 };
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

/** This cookie's own AES-256-GCM key and IV (e2), from the secret and the cookie's salt. */
function cookieKey(secret: string, salt: Buffer): { key: Buffer; iv: Buffer } {
  const material = Buffer.from(hkdfSync("sha256", secret, salt, ENCRYPT_LABEL, KEY_BYTES + IV_BYTES));
  return { key: material.subarray(0, KEY_BYTES), iv: material.subarray(KEY_BYTES) };
}

function seal(secret: string, payload: Buffer): string {
  const salt = randomBytes(SALT_BYTES);
  const { key, iv } = cookieKey(secret, salt);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(ENCRYPTED));
  const body = Buffer.concat([cipher.update(payload), cipher.final()]);
  return `${ENCRYPTED}.${Buffer.concat([salt, body, cipher.getAuthTag()]).toString("base64url")}`;
}

/** The plain text if `value` is an e2 value that authenticates under `secret`. */
function unseal(secret: string, value: string): Buffer | undefined {
  const blob = sealedBlob(value, ENCRYPTED, SALT_BYTES);
  if (blob === undefined) return undefined;
  const { key, iv } = cookieKey(secret, blob.subarray(0, SALT_BYTES));
  return decrypt(key, iv, ENCRYPTED, blob.subarray(SALT_BYTES));
}

/** The plain text if `value` is an old e1 value that authenticates under `key`. */
function unsealV1(key: Buffer, value: string): Buffer | undefined {
  const blob = sealedBlob(value, ENCRYPTED_V1, IV_BYTES);
  if (blob === undefined) return undefined;
  return decrypt(key, blob.subarray(0, IV_BYTES), ENCRYPTED_V1, blob.subarray(IV_BYTES));
}

/** The bytes of `<version>.<base64url>`, if long enough for a `prefixBytes` prefix and a tag. */
function sealedBlob(value: string, version: string, prefixBytes: number): Buffer | undefined {
  const parts = value.split(".");
  if (parts.length !== 2 || parts[0] !== version) return undefined;
  const blob = fromBase64url(parts[1] ?? "");
  return blob === undefined || blob.length < prefixBytes + TAG_BYTES ? undefined : blob;
}

/** AES-256-GCM decryption of `ciphertext ‖ tag`, or undefined if it does not authenticate. */
function decrypt(key: Buffer, iv: Buffer, version: string, sealed: Buffer): Buffer | undefined {
  const decipher = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(version));
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]);
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
