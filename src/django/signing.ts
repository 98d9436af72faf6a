/**
 * Django's signing format (`django.core.signing.dumps` / `loads` with the default
 * `TimestampSigner`), implemented from its description, so Tessera can read and write values a
 * Django site signed with the same `SECRET_KEY`:
 *
 *     [.]<base64url(json or zlib(json))>:<base62(unix seconds)>:<base64url(hmac-sha256)>
 *
 * - The HMAC key is SHA-256(salt + "signer" + secret) ("salted HMAC"); the message is everything
 *   before the last `:`.
 * - base64url is unpadded; a leading `.` marks a zlib-compressed payload, used only when it saves
 *   at least two bytes.
 * - The JSON is Python's `json.dumps(obj, separators=(",", ":"))`: every character outside
 *   printable ASCII escaped as lower-case `\uXXXX`, floats in Python's `repr` form (`1.0`,
 *   `1e-05`). See {@link pythonJson} and {@link parsePythonJson}.
 * @module
 */
import type { Buffer } from "node:buffer";
import type * as NodeCrypto from "node:crypto";
import type * as NodeZlib from "node:zlib";
import { ConfigurationError } from "../errors.js";
import { constantTimeEqual } from "../keys.js";
import { nodeBuiltin } from "../runtime.js";

/** The Node modules Django's format is built on (its HMAC over SHA-256 keys, zlib, Buffer). */
interface SigningRuntime {
  readonly Buffer: typeof Buffer;
  readonly crypto: typeof NodeCrypto;
  readonly zlib: typeof NodeZlib;
}
let runtime: SigningRuntime | undefined;

/**
 * Node's buffer, crypto and zlib, loaded on first use (never imported, so an app that uses no
 * Django format loads no zlib, and a bundle for an edge runtime holds no `node:` import).
 * Throws a `ConfigurationError` on a runtime without them; the Django backends call it when
 * they are created, so that fails at startup.
 */
export function signingRuntime(): SigningRuntime {
  if (runtime) return runtime;
  const buffer = nodeBuiltin<typeof import("node:buffer")>("node:buffer");
  const crypto = nodeBuiltin<typeof NodeCrypto>("node:crypto");
  const zlib = nodeBuiltin<typeof NodeZlib>("node:zlib");
  if (!buffer || !crypto || !zlib) {
    throw new ConfigurationError(
      "Django's signing format needs Node's buffer, crypto and zlib modules, which this runtime does not offer (on Cloudflare Workers, enable the nodejs_compat flag). Run it on Node, Bun or Deno, or use Tessera's own cookie format here: signedCookieBackend() without format.",
    );
  }
  return (runtime = { Buffer: buffer.Buffer, crypto, zlib });
}

/** The salt of `django.core.signing.dumps` when none is given. */
export const DEFAULT_SALT = "django.core.signing";
/** The salt of `session_data` in the db, cached_db and file engines (`SessionStore.key_salt`). */
export const SESSION_STORE_SALT = "django.contrib.sessions.SessionStore";
/** The salt of the signed_cookies engine's cookie value. */
export const SIGNED_COOKIES_SALT = "django.contrib.sessions.backends.signed_cookies";

/** A value failed verification: no `:`, a wrong signature, or a payload that does not decode. */
export class BadSignature extends Error {
  override name = "BadSignature";
}

/** A value verified, but it was signed longer ago than `maxAge` allows. */
export class SignatureExpired extends BadSignature {
  override name = "SignatureExpired";
}

// ---------------------------------------------------------------------------------------------
// base62 and base64url

const B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** Base62 with Django's alphabet (`0-9A-Za-z`); 0 is `"0"`, negatives get a leading `-`. */
export function b62Encode(value: number): string {
  if (!Number.isSafeInteger(value)) throw new RangeError(`b62Encode takes a safe integer, not ${value}.`);
  if (value === 0) return "0";
  const sign = value < 0 ? "-" : "";
  let rest = Math.abs(value);
  let out = "";
  while (rest > 0) {
    out = B62[rest % 62] + out;
    rest = Math.floor(rest / 62);
  }
  return sign + out;
}

/** The inverse of {@link b62Encode}. Throws `BadSignature` on a character outside the alphabet. */
export function b62Decode(text: string): number {
  const negative = text.startsWith("-");
  const digits = negative ? text.slice(1) : text;
  if (digits === "") throw new BadSignature("Empty base62 timestamp");
  let value = 0;
  for (const char of digits) {
    const digit = B62.indexOf(char);
    if (digit < 0) throw new BadSignature(`Invalid base62 timestamp ${JSON.stringify(text)}`);
    value = value * 62 + digit;
  }
  if (!Number.isSafeInteger(value)) throw new BadSignature(`Base62 timestamp ${JSON.stringify(text)} is out of range`);
  return negative ? -value : value;
}

/** URL-safe base64 without `=` padding. */
export function b64Encode(bytes: Uint8Array): string {
  return signingRuntime().Buffer.from(bytes).toString("base64url");
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** The inverse of {@link b64Encode}; rejects characters outside the URL-safe alphabet. */
export function b64Decode(text: string): Buffer {
  // Node's decoder silently skips invalid characters; Python's would fail, so check first.
  if (!BASE64URL.test(text) || text.length % 4 === 1) throw new BadSignature("Payload is not base64url");
  return signingRuntime().Buffer.from(text, "base64url");
}

// ---------------------------------------------------------------------------------------------
// HMAC

/**
 * Django's `salted_hmac(keySalt, value, secret, algorithm="sha256")`: HMAC-SHA256 of `value`
 * under the key SHA-256(keySalt + secret). Returns the raw digest.
 */
export function saltedHmac(keySalt: string, value: string | Uint8Array, secret: string): Buffer {
  const { crypto, Buffer } = signingRuntime();
  const key = crypto
    .createHash("sha256")
    .update(keySalt + secret, "utf8")
    .digest();
  return crypto
    .createHmac("sha256", key)
    .update(typeof value === "string" ? Buffer.from(value, "utf8") : value)
    .digest();
}

/** The 43-character signature `Signer(salt=salt)` puts after the last `:` of `value`. */
export function signature(value: string, salt: string, secret: string): string {
  return b64Encode(saltedHmac(`${salt}signer`, value, secret));
}

// ---------------------------------------------------------------------------------------------
// Python-compatible JSON

/**
 * Marks a number Python holds as a `float`, so {@link pythonJson} writes an integral one as
 * `1.0` rather than `1` (JavaScript numbers do not tell the two apart).
 */
export class PythonFloat {
  constructor(readonly value: number) {}
  toJSON(): number {
    return this.value;
  }
}

/** A JSON path: object keys and array indexes from the root. */
export type JsonPath = readonly (string | number)[];

/** Python's `repr(float)`: the shortest round-trip digits, `.0` on integral values, `e±XX` outside 1e-4..1e16. */
export function pythonFloatRepr(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "Infinity";
  if (value === -Infinity) return "-Infinity";
  if (value === 0) return Object.is(value, -0) ? "-0.0" : "0.0";
  const sign = value < 0 ? "-" : "";
  // toExponential() without an argument gives the shortest digits that round-trip, as repr does.
  const [mantissa = "", exp = "0"] = Math.abs(value).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const decimalPoint = Number(exp) + 1; // value = 0.<digits> × 10^decimalPoint
  if (decimalPoint > -4 && decimalPoint <= 16) {
    if (decimalPoint <= 0) return `${sign}0.${"0".repeat(-decimalPoint)}${digits}`;
    if (decimalPoint >= digits.length) return `${sign}${digits}${"0".repeat(decimalPoint - digits.length)}.0`;
    return `${sign}${digits.slice(0, decimalPoint)}.${digits.slice(decimalPoint)}`;
  }
  const e = decimalPoint - 1;
  const fraction = digits.length > 1 ? `.${digits.slice(1)}` : "";
  return `${sign}${digits[0]}${fraction}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
}

/** A JSON string literal as Python writes it with `ensure_ascii=True`. */
function pythonString(text: string): string {
  // JSON.stringify already escapes quotes, backslashes, controls and lone surrogates (lower-case);
  // Python also escapes DEL and everything beyond ASCII, one UTF-16 unit at a time.
  return JSON.stringify(text).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function pathKey(path: JsonPath): string {
  return JSON.stringify(path);
}

/**
 * Serializes `value` exactly as Python's `json.dumps(value, separators=(",", ":"))` would the
 * equivalent Python object: compact, keys in insertion order, non-ASCII as lower-case `\uXXXX`.
 * Integral numbers are written as ints, unless wrapped in {@link PythonFloat} or found in
 * `floats` (from {@link parsePythonJson}) at the same path with the same value: those are
 * written as floats (`1.0`). Checking the value too means a list that shifted, or a number that
 * changed, never turns an int into a float.
 *
 * Caveat: JavaScript objects list integer-like keys ("2") before the others, so such keys may come
 * out in a different order than Python's dict had them; the decoded data is the same.
 */
export function pythonJson(value: unknown, floats?: ReadonlyMap<string, number>): string {
  const path: (string | number)[] = [];
  const write = (item: unknown): string => {
    if (item === null || item === undefined) return "null";
    if (item === true) return "true";
    if (item === false) return "false";
    if (item instanceof PythonFloat) return pythonFloatRepr(item.value);
    if (typeof item === "number") {
      if (Number.isInteger(item) && !(floats?.size && floats.get(pathKey(path)) === item)) {
        return BigInt(item).toString(); // exact digits, never "1e+21"
      }
      return pythonFloatRepr(item);
    }
    if (typeof item === "string") return pythonString(item);
    if (Array.isArray(item)) {
      const parts: string[] = [];
      item.forEach((element, index) => {
        path.push(index);
        parts.push(write(element));
        path.pop();
      });
      return `[${parts.join(",")}]`;
    }
    if (item instanceof Map) return write(Object.fromEntries(item));
    if (typeof item === "object") {
      const parts: string[] = [];
      for (const [key, element] of Object.entries(item)) {
        if (element === undefined) continue; // as JSON.stringify: undefined members are left out
        path.push(key);
        parts.push(`${pythonString(key)}:${write(element)}`);
        path.pop();
      }
      return `{${parts.join(",")}}`;
    }
    throw new TypeError(`A ${typeof item} cannot be written as JSON.`);
  };
  return write(value);
}

/** What {@link parsePythonJson} returns. */
export interface ParsedPythonJson {
  /** The decoded value. Objects have a null prototype, so `"__proto__"` is an ordinary key. */
  readonly value: unknown;
  /** Integral numbers Python wrote as floats (`1.0`, `2e3`): path (as `JSON.stringify(path)`) to value. */
  readonly floats: ReadonlyMap<string, number>;
  /** Whether the text held `NaN`, `Infinity` or `-Infinity` (decoded as `null`: JSON has no such values). */
  readonly hadNonFinite: boolean;
}

/**
 * The deepest nesting of arrays and objects {@link parsePythonJson} accepts. Python's `json.loads`
 * stops near its recursion limit (1000) too, so Django could not read deeper data either; the cap
 * keeps a hostile (even validly signed) value from exhausting the stack.
 */
export const MAX_JSON_DEPTH = 1000;

/**
 * Parses JSON as Python's `json.loads` accepts it (bare `NaN`, `Infinity`, `-Infinity` included,
 * decoded as `null`), and records which integral numbers were written as floats so
 * {@link pythonJson} can write them back unchanged. Throws `SyntaxError` on invalid JSON and on
 * nesting deeper than {@link MAX_JSON_DEPTH}.
 */
export function parsePythonJson(text: string): ParsedPythonJson {
  const floats = new Map<string, number>();
  let hadNonFinite = false;
  let i = 0;
  const path: (string | number)[] = [];
  const fail = (what: string): never => {
    throw new SyntaxError(`Invalid JSON at ${i}: ${what}`);
  };
  const skip = () => {
    while (i < text.length && " \t\n\r".includes(text[i] as string)) i++;
  };
  const literal = (word: string, result: unknown) => {
    if (!text.startsWith(word, i)) fail(`expected ${word}`);
    i += word.length;
    return result;
  };
  const string = (): string => {
    // Find the closing quote, then let JSON.parse handle escapes exactly.
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === "\\") i++;
      i++;
    }
    if (i >= text.length) fail("unterminated string");
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const number = (): number | null => {
    const match = /^-?(?:Infinity|(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?)/.exec(text.slice(i, i + 400));
    if (match === null) return fail("expected a value");
    i += match[0].length;
    if (match[0].endsWith("Infinity")) {
      hadNonFinite = true;
      return null;
    }
    const value = Number(match[0]);
    if ((match[1] !== undefined || match[2] !== undefined) && Number.isInteger(value)) floats.set(pathKey(path), value);
    return value;
  };
  let depth = 0;
  const enter = () => {
    if (++depth > MAX_JSON_DEPTH) fail(`nested deeper than ${MAX_JSON_DEPTH} levels`);
  };
  /** The rest of an object or array after its opening bracket: `member` reads one, up to `close`. */
  const members = <T>(close: "}" | "]", member: () => void, result: T): T => {
    enter();
    i++;
    skip();
    if (text[i] !== close)
      for (;;) {
        member();
        skip();
        if (text[i] === close) break;
        if (text[i] !== ",") fail(`expected "," or "${close}"`);
        i++;
      }
    i++;
    depth--;
    return result;
  };
  const parse = (): unknown => {
    skip();
    const c = text[i];
    if (c === "{") {
      const object = Object.create(null) as Record<string, unknown>;
      return members(
        "}",
        () => {
          skip();
          if (text[i] !== '"') fail("expected a key");
          const key = string();
          skip();
          if (text[i] !== ":") fail('expected ":"');
          i++;
          path.push(key);
          object[key] = parse();
          path.pop();
        },
        object,
      );
    }
    if (c === "[") {
      const array: unknown[] = [];
      return members(
        "]",
        () => {
          path.push(array.length);
          array.push(parse());
          path.pop();
        },
        array,
      );
    }
    if (c === '"') return string();
    if (c === "t") return literal("true", true);
    if (c === "f") return literal("false", false);
    if (c === "n") return literal("null", null);
    if (c === "N") {
      hadNonFinite = true;
      return literal("NaN", null);
    }
    return number();
  };
  const value = parse();
  skip();
  if (i !== text.length) fail("trailing characters");
  return { value, floats, hadNonFinite };
}

// ---------------------------------------------------------------------------------------------
// Signing

/** Options of {@link signPayload} and {@link dumps}. */
export interface SignOptions {
  /** The secret to sign with (Django's `SECRET_KEY`). */
  readonly secret: string;
  /** @default "django.core.signing" */
  readonly salt?: string;
  /** Compress with zlib when that saves at least two bytes (sessions always ask for it). @default false */
  readonly compress?: boolean;
  /** The signing time in milliseconds since the epoch; Django keeps whole seconds. @default Date.now() */
  readonly now?: number;
}

/** Options of {@link unsignPayload} and {@link loads}. */
export interface VerifyOptions {
  /** The secrets to try, newest first (Django's `SECRET_KEY`, then `SECRET_KEY_FALLBACKS`). */
  readonly secrets: string | readonly string[];
  /** @default "django.core.signing" */
  readonly salt?: string;
  /** Reject values signed more than this many seconds before `now` (`SignatureExpired`). */
  readonly maxAge?: number | undefined;
  /** The time to measure the age at, in milliseconds since the epoch. @default Date.now() */
  readonly now?: number;
  /**
   * The most bytes a compressed payload may inflate to; a larger one is a `BadSignature`, so a
   * small value cannot expand into megabytes of JSON. @default unbounded
   */
  readonly maxInflatedBytes?: number;
}

/** A verified value, as {@link unsignPayload} returns it. */
export interface Unsigned {
  /** The serialized JSON text (decompressed). */
  readonly json: string;
  /** The signing time, in whole seconds since the epoch. */
  readonly timestamp: number;
  /** Which of `secrets` verified it: 0 for the newest, more for a fallback. */
  readonly secretIndex: number;
}

/**
 * Signs serialized JSON text as `TimestampSigner.sign_object` does: optional zlib, base64url,
 * the base62 timestamp, the signature. `json` must be ASCII (use {@link pythonJson}), because
 * Python reads the bytes back as Latin-1.
 */
export function signPayload(json: string, options: SignOptions): string {
  if (/[^\x00-\x7f]/.test(json)) throw new TypeError("signPayload takes ASCII JSON; write it with pythonJson(), which escapes non-ASCII as Python does.");
  const { Buffer, zlib } = signingRuntime();
  const data = Buffer.from(json, "latin1");
  let payload = b64Encode(data);
  if (options.compress) {
    const compressed = zlib.deflateSync(data); // level 6 with the zlib header, as Python's zlib.compress
    if (compressed.length < data.length - 1) payload = `.${b64Encode(compressed)}`;
  }
  const value = `${payload}:${b62Encode(Math.floor((options.now ?? Date.now()) / 1000))}`;
  return `${value}:${signature(value, options.salt ?? DEFAULT_SALT, options.secret)}`;
}

/**
 * Verifies a signed value against each secret in turn (constant-time compare), checks its age
 * when `maxAge` is given, and returns its JSON text. Throws `BadSignature` (or its subclass
 * `SignatureExpired`).
 */
export function unsignPayload(signed: string, options: VerifyOptions): Unsigned {
  const cut = signed.lastIndexOf(":");
  if (cut < 0) throw new BadSignature('No ":" found in value');
  const value = signed.slice(0, cut);
  const sig = signed.slice(cut + 1);
  const salt = options.salt ?? DEFAULT_SALT;
  const secrets = typeof options.secrets === "string" ? [options.secrets] : options.secrets;
  const secretIndex = secrets.findIndex((secret) => constantTimeEqual(sig, signature(value, salt, secret)));
  if (secretIndex < 0) throw new BadSignature("Signature does not match");

  const cut2 = value.lastIndexOf(":");
  if (cut2 < 0) throw new BadSignature("No timestamp found in value");
  const timestamp = b62Decode(value.slice(cut2 + 1));
  if (options.maxAge !== undefined) {
    const age = (options.now ?? Date.now()) / 1000 - timestamp;
    if (age > options.maxAge) throw new SignatureExpired(`Signature age ${age} > ${options.maxAge} seconds`);
  }

  let payload = value.slice(0, cut2);
  const compressed = payload.startsWith(".");
  if (compressed) payload = payload.slice(1);
  let data = b64Decode(payload);
  if (compressed) {
    try {
      data = signingRuntime().zlib.inflateSync(data, options.maxInflatedBytes === undefined ? {} : { maxOutputLength: options.maxInflatedBytes });
    } catch {
      throw new BadSignature("Payload does not decompress (or inflates beyond maxInflatedBytes)");
    }
  }
  return { json: data.toString("latin1"), timestamp, secretIndex };
}

/**
 * `django.core.signing.dumps(obj, salt=..., compress=...)`: `obj` serialized with
 * {@link pythonJson}, then signed with {@link signPayload}.
 *
 * @example
 * dumps({ foo: "bar" }, { secret, salt: SESSION_STORE_SALT, compress: true })
 */
export function dumps(obj: unknown, options: SignOptions): string {
  return signPayload(pythonJson(obj), options);
}

/**
 * `django.core.signing.loads(s, salt=..., max_age=...)`: verifies with {@link unsignPayload} and
 * parses the JSON with {@link parsePythonJson}. Throws `BadSignature` for a value that does not
 * verify or decode.
 */
export function loads(signed: string, options: VerifyOptions): unknown {
  const { json } = unsignPayload(signed, options);
  try {
    return parsePythonJson(json).value;
  } catch {
    throw new BadSignature("Payload is not JSON");
  }
}
