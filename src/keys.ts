/**
 * Session keys: generation, validation and the hash stored at rest.
 * @module
 */
import { utf8Length } from "./bytes.js";
import { randomBytes, sha256Hex } from "./crypto.js";

/** Django's VALID_KEY_CHARS: lower case only, because some file systems ignore case. */
const KEY_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789";
const KEY_LENGTH = 32;

/** A new 32-character `[a-z0-9]` key from the CSPRNG (about 165 bits). */
export function generateKey(): string {
  let key = "";
  // Uniform: bytes of 252 and above are dropped (252 = 7 * 36), so `byte % 36` has no bias.
  while (key.length < KEY_LENGTH) {
    for (const byte of randomBytes(2 * KEY_LENGTH)) {
      if (byte < UNBIASED_LIMIT) key += KEY_CHARS[byte % KEY_CHARS.length];
      if (key.length === KEY_LENGTH) break;
    }
  }
  return key;
}
const UNBIASED_LIMIT = 256 - (256 % KEY_CHARS.length);

/**
 * Whether a cookie value can name a server-side session. Django's rule is "at least 8
 * characters"; Tessera also requires Django's own key alphabet and at most 40 characters
 * (Django's column width), so a hostile value never reaches a store.
 */
export function isValidKey(value: string | null | undefined): value is string {
  return typeof value === "string" && /^[a-z0-9]{8,40}$/.test(value);
}

/**
 * What a session id looks like: `hashKey(key)`, 64 lower-case hex characters, as a regular
 * expression source to build file names, cursors and routes from. Use {@link isSessionId} to test a value.
 */
export const SESSION_ID_SOURCE = "[0-9a-f]{64}";
const SESSION_ID = new RegExp(`^${SESSION_ID_SOURCE}$`);

/** Whether `value` is a session id (`hashKey(key)`): what the admin, the CLI and the stores accept as one. */
export function isSessionId(value: unknown): value is string {
  return typeof value === "string" && SESSION_ID.test(value);
}

/** The fewest bytes a secret may have (the sessions' `secret`, the admin's `csrfSecret`): a full HMAC-SHA256 key. */
export const MIN_SECRET_BYTES = 32;
/** A shell command that prints a fresh secret, for the error messages that ask for one. */
export const GENERATE_SECRET = `node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"`;

/**
 * `undefined` when `value` is a usable secret; otherwise what is wrong with it, worded to follow
 * the option's name ("secret must be at least 32 bytes long (it is 9). Generate one with: …").
 */
export function secretProblem(value: unknown): string | undefined {
  const bytes = typeof value === "string" ? utf8Length(value) : 0;
  if (bytes >= MIN_SECRET_BYTES) return undefined;
  return `must be at least ${MIN_SECRET_BYTES} bytes long (it is ${bytes}). Generate one with: ${GENERATE_SECRET}`;
}

/**
 * The form a server-side backend stores instead of the key: SHA-256, hex. A leaked table or
 * dump then holds nothing a browser could present. A fast hash is enough here (unlike for
 * passwords) because the key itself carries ~165 bits of randomness.
 */
export function hashKey(key: string): string {
  // A request hashes its key for the load and again for the save: the last answer is kept.
  if (key !== lastKey) {
    lastHash = sha256Hex(key);
    lastKey = key;
  }
  return lastHash;
}
let lastKey: string | undefined;
let lastHash = "";

/** Compares two strings in time independent of where they differ (for signatures and tokens). */
export function constantTimeEqual(a: string, b: string): boolean {
  // Every UTF-16 unit is compared, with no early exit; on a length mismatch `a` is compared
  // against itself so the time does not reveal the length check.
  const other = a.length === b.length ? b : a;
  let difference = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ other.charCodeAt(i);
  return difference === 0;
}
