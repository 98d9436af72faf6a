/**
 * `signedCookieBackend({ encrypt? })`: the session lives in the cookie itself, signed (readable,
 * not forgeable) or encrypted (neither readable nor forgeable). As in Django, the cookie value is
 * the session key. Unlike Django, the expiry sealed inside the value is enforced on every load
 * (Django checks only the cookie age and ignores `set_expiry`, Trac #27775).
 *
 * Formats (every part base64url without padding, so the value is cookie-safe: `[A-Za-z0-9_.-]`):
 *
 * - Signed:    `v1.<payload>.<mac>`, mac = HMAC-SHA256(K_sign, "v1." + payload), 43 characters.
 * - Encrypted: `e3.<salt ‖ ciphertext ‖ tag>`, AES-256-GCM with a key and IV of this cookie's
 *   own: HMAC-SHA512(K_enc, salt = 128 random bits) gives 32 bytes of key and 12 of IV, and "e3"
 *   is the additional data (binds the version). K_enc is derived once per secret (below), so a
 *   cookie costs one HMAC rather than a whole HKDF. One key per cookie, so no key ever nears
 *   GCM's usage limit (2^32 messages per key with random IVs, NIST SP 800-38D); salts repeat
 *   only after about 2^64 cookies.
 * - Encrypted, older: `e2.<salt ‖ ciphertext ‖ tag>`, the same with the key and IV from
 *   HKDF-SHA256(secret, salt, info = ENCRYPT_V2_LABEL) and "e2" as additional data; and
 *   `e1.<iv ‖ ciphertext ‖ tag>`, one key per secret, a random 96-bit IV and "e1". Both still
 *   open, reported `stale`, so the core re-issues them as e3; never written.
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
import { concatBytes, fromBase64url as decodeBase64url, fromUtf8, toBase64url, utf8 } from "../bytes.js";
import { portableCrypto as crypto, randomBytes } from "../crypto.js";
import { decodeData } from "../codec.js";
import { ConfigurationError } from "../errors.js";
import { constantTimeEqual } from "../keys.js";
import type { AsyncCookieBackend, CookieOpened } from "./base.js";
import { djangoCookieBackend } from "./django-cookies.js";

const NAME = "signed-cookies";
const SIGNED = "v1";
const ENCRYPTED = "e3";
/** The earlier encrypted formats (per-cookie keys from a whole HKDF; one key per secret): opened, never written. */
const ENCRYPTED_V2 = "e2";
const ENCRYPTED_V1 = "e1";
/** HKDF labels: one per purpose and format version. */
const SIGN_LABEL = "tessera/signed-cookies/v1/hmac-sha256";
const ENCRYPT_V1_LABEL = "tessera/signed-cookies/e1/aes-256-gcm";
const ENCRYPT_V2_LABEL = "tessera/signed-cookies/e2/aes-256-gcm";
const ENCRYPT_LABEL = "tessera/signed-cookies/e3/aes-256-gcm";
const KEY_BYTES = 32;
const IV_BYTES = 12;
/** The per-cookie salt of e3 and e2: 128 random bits. */
const SALT_BYTES = 16;
const TAG_BYTES = 16;
/** Browsers keep 4096 bytes per cookie; anything much longer is not ours, so skip the crypto. */
const MAX_VALUE_LENGTH = 8192;

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

/** What {@link signedCookieBackend} returns: a cookie backend whose sealing is async (Web Crypto's). */
export interface SignedCookieBackend extends AsyncCookieBackend {
  readonly encrypted: boolean;
}

/**
 * A backend with no server state: the data and its expiry travel in the cookie (at most 4096
 * bytes; a bigger session fails the response with `CookieTooLargeError`). Needs `secret`.
 * Like Django's, a copied cookie stays valid until it expires: logout cannot revoke it.
 *
 * @example
 * createSessions({ backend: signedCookieBackend({ encrypt: true }), secret: process.env.SESSION_SECRET })
 */
export function signedCookieBackend(options: SignedCookieBackendOptions = {}): SignedCookieBackend {
  const encrypt = options.encrypt ?? false;
  if (typeof encrypt !== "boolean") throw new ConfigurationError("signedCookieBackend encrypt must be true or false.");
  const format = options.format ?? "tessera";
  if (format === "django") {
    if (encrypt)
      throw new ConfigurationError(
        'signedCookieBackend cannot encrypt format "django": Django\'s signed_cookies value is only signed. Drop encrypt, or use the Tessera format.',
      );
    return { ...djangoCookieBackend(options.maxAge === undefined ? {} : { maxAge: options.maxAge }), encrypted: false };
  }
  if (format !== "tessera") throw new ConfigurationError(`signedCookieBackend format must be "tessera" or "django" (it is ${JSON.stringify(format)}).`);
  if (options.maxAge !== undefined)
    throw new ConfigurationError(
      'signedCookieBackend maxAge applies to format "django" only; the Tessera format seals each session\'s own expiry (set the lifetime with createSessions({ cookie: { maxAge } })).',
    );
  const signKeys = keyCache(SIGN_LABEL);
  const encryptKeys = keyCache(ENCRYPT_LABEL);
  const encryptV1Keys = keyCache(ENCRYPT_V1_LABEL);

  return {
    kind: "cookie",
    name: NAME,
    encrypted: encrypt,
    async encode(data, expiresAt, _now, secrets) {
      const newest = secrets[0];
      if (newest === undefined) throw new ConfigurationError(`The ${NAME} backend needs a secret to seal the session cookie.`);
      const payload = utf8(`{"exp":${JSON.stringify(expiresAt)},"data":${data}}`);
      return encrypt ? seal(await encryptKeys(newest), payload) : sign(await signKeys(newest), payload);
    },
    async decode(value, now, secrets) {
      try {
        if (typeof value !== "string" || value.length > MAX_VALUE_LENGTH) return null;
        // Either format opens, so switching `encrypt` re-issues cookies instead of logging users out.
        const version = value.slice(0, value.indexOf("."));
        const sealed = version === ENCRYPTED || version === ENCRYPTED_V2 || version === ENCRYPTED_V1;
        for (let index = 0; index < secrets.length; index++) {
          const secret = secrets[index] as string;
          const payload =
            version === ENCRYPTED
              ? await unseal(await encryptKeys(secret), value)
              : version === ENCRYPTED_V2
                ? await unsealV2(secret, value)
                : version === ENCRYPTED_V1
                  ? await unsealV1(await encryptV1Keys(secret), value)
                  : await verify(await signKeys(secret), value);
          if (payload === undefined) continue;
          const opened = parsePayload(payload, now);
          // An e1 or e2 value is re-issued as e3, like a value of the other format or an older secret's.
          return opened === undefined ? null : { ...opened, stale: index > 0 || sealed !== encrypt || (sealed && version !== ENCRYPTED) };
        }
        return null;
      } catch {
        return null; // hostile input is data, not an exception
      }
    },
  };
}

async function sign(key: Uint8Array, payload: Uint8Array): Promise<string> {
  const message = `${SIGNED}.${toBase64url(payload)}`;
  return `${message}.${await mac(key, message)}`;
}

/** The payload if `value` is a signed value whose MAC matches under `key`. */
async function verify(key: Uint8Array, value: string): Promise<Uint8Array | undefined> {
  const parts = value.split(".");
  if (parts.length !== 3 || parts[0] !== SIGNED) return undefined;
  const [, payload = "", signature = ""] = parts;
  // Checked before the MAC is computed: a value that cannot be ours costs no crypto.
  const bytes = decodeBase64url(payload);
  if (bytes === undefined) return undefined;
  // The MAC covers the text as sent, so any changed character fails, padding bits included: no
  // spelling but the canonical one encode wrote can pass, and no re-encoding is needed to check it.
  if (!constantTimeEqual(await mac(key, `${SIGNED}.${payload}`), signature)) return undefined;
  return bytes;
}

async function mac(key: Uint8Array, message: string): Promise<string> {
  return toBase64url(await crypto.hmacSha256(key, message));
}

/** This cookie's own AES-256-GCM key and IV (e3): HMAC-SHA512 of its salt under the secret's K_enc. */
async function cookieKey(encryptKey: Uint8Array, salt: Uint8Array): Promise<{ key: Uint8Array; iv: Uint8Array }> {
  const material = await crypto.hmacSha512(encryptKey, salt);
  return { key: material.subarray(0, KEY_BYTES), iv: material.subarray(KEY_BYTES, KEY_BYTES + IV_BYTES) };
}

const ENCRYPTED_AAD = utf8(ENCRYPTED);

async function seal(encryptKey: Uint8Array, payload: Uint8Array): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const { key, iv } = await cookieKey(encryptKey, salt);
  const body = await crypto.sealAesGcm(key, iv, ENCRYPTED_AAD, payload);
  return `${ENCRYPTED}.${toBase64url(concatBytes(salt, body))}`;
}

/** The plain text if `value` is an e3 value that authenticates under `encryptKey`. */
async function unseal(encryptKey: Uint8Array, value: string): Promise<Uint8Array | undefined> {
  const blob = sealedBlob(value, ENCRYPTED, SALT_BYTES);
  if (blob === undefined) return undefined;
  const { key, iv } = await cookieKey(encryptKey, blob.subarray(0, SALT_BYTES));
  return crypto.openAesGcm(key, iv, ENCRYPTED_AAD, blob.subarray(SALT_BYTES));
}

/** The plain text if `value` is an older e2 value (key and IV from a whole HKDF) that authenticates under `secret`. */
async function unsealV2(secret: string, value: string): Promise<Uint8Array | undefined> {
  const blob = sealedBlob(value, ENCRYPTED_V2, SALT_BYTES);
  if (blob === undefined) return undefined;
  const material = await crypto.hkdf(secret, blob.subarray(0, SALT_BYTES), ENCRYPT_V2_LABEL, KEY_BYTES + IV_BYTES);
  return crypto.openAesGcm(material.subarray(0, KEY_BYTES), material.subarray(KEY_BYTES), utf8(ENCRYPTED_V2), blob.subarray(SALT_BYTES));
}

/** The plain text if `value` is an old e1 value that authenticates under `key`. */
async function unsealV1(key: Uint8Array, value: string): Promise<Uint8Array | undefined> {
  const blob = sealedBlob(value, ENCRYPTED_V1, IV_BYTES);
  if (blob === undefined) return undefined;
  return crypto.openAesGcm(key, blob.subarray(0, IV_BYTES), utf8(ENCRYPTED_V1), blob.subarray(IV_BYTES));
}

/** The bytes of `<version>.<base64url>`, if long enough for a `prefixBytes` prefix and a tag. */
function sealedBlob(value: string, version: string, prefixBytes: number): Uint8Array | undefined {
  const parts = value.split(".");
  if (parts.length !== 2 || parts[0] !== version) return undefined;
  const blob = fromBase64url(parts[1] ?? "");
  return blob === undefined || blob.length < prefixBytes + TAG_BYTES ? undefined : blob;
}

/** `{ data, expiresAt }` from an authenticated payload, or undefined if malformed or expired at `now`. */
/** The head of every payload `encode` writes: `{"exp":<ms>,"data":` (then the data object and `}`). */
const PAYLOAD_HEAD = /^\{"exp":(\d{1,16}),"data":(?=\{)/;

function parsePayload(payload: Uint8Array, now: number): { data: string; expiresAt: number; decoded?: Map<string, unknown> } | undefined {
  const text = fromUtf8(payload);
  // The payload is authenticated, so it is the text `encode` wrote: the data is cut out as it
  // stands and parsed once, for the session too, instead of parsed, serialised and parsed again.
  const head = PAYLOAD_HEAD.exec(text);
  if (head !== null && text.endsWith("}")) {
    const exp = Number(head[1]);
    if (exp <= now) return undefined;
    const data = text.slice(head[0].length, -1);
    const decoded = decodeData(data);
    return decoded === undefined ? undefined : { data, expiresAt: exp, decoded };
  }
  const parsed = JSON.parse(text) as unknown;
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const { exp, data } = parsed as { exp?: unknown; data?: unknown };
  if (typeof exp !== "number" || !Number.isFinite(exp) || exp <= now) return undefined;
  if (typeof data !== "object" || data === null || Array.isArray(data)) return undefined;
  // JSON.parse keeps "__proto__" as an own key, and stringify writes it back unchanged.
  return { data: JSON.stringify(data), expiresAt: exp };
}

/** Strict base64url: only the alphabet, and only the one canonical spelling of the bytes. */
function fromBase64url(text: string): Uint8Array | undefined {
  const bytes = decodeBase64url(text);
  return bytes !== undefined && toBase64url(bytes) === text ? bytes : undefined;
}

/** Derives (once per secret) the 32-byte key for `label`. */
function keyCache(label: string): (secret: string) => Promise<Uint8Array> {
  const cache = new Map<string, Promise<Uint8Array>>();
  const salt = utf8("tessera");
  return (secret) => {
    let key = cache.get(secret);
    if (key === undefined) {
      key = crypto.hkdf(secret, salt, label, 32);
      if (cache.size >= 16) cache.clear(); // secrets are few; bound it anyway
      cache.set(secret, key);
    }
    return key;
  };
}
