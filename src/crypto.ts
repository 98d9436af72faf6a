/**
 * The cryptography the cookie backends need, on any runtime: Node's `node:crypto` where the
 * runtime has it (5 to 10 times faster on Node: docs/frameworks.md), else Web Crypto (`crypto.subtle`), which
 * Cloudflare Workers, Vercel Edge, Deno and Bun all have. Both give the same bytes, so a cookie
 * sealed on one runtime opens on another. Every operation is async, as Web Crypto is.
 * @module
 */
import type * as NodeCrypto from "node:crypto";
import type { webcrypto } from "node:crypto";
import { concatBytes, toHex, utf8 } from "./bytes.js";
import { hmac as nobleHmac } from "@noble/hashes/hmac.js";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { nodeBuiltin } from "./runtime.js";

/** The operations, one implementation per platform. */
export interface PortableCrypto {
  readonly name: "node" | "web";
  /** HKDF-SHA256 of `secret` (UTF-8) with `salt` and `info`, `length` bytes. */
  hkdf(secret: string, salt: Uint8Array, info: string, length: number): Promise<Uint8Array>;
  /** HMAC-SHA256 of `message` (UTF-8) under `key`. */
  hmacSha256(key: Uint8Array, message: string): Promise<Uint8Array>;
  /** HMAC-SHA512 of `message` under `key` (64 bytes: an AES key and IV at once). */
  hmacSha512(key: Uint8Array, message: Uint8Array): Promise<Uint8Array>;
  /** AES-256-GCM: `ciphertext ‖ 16-byte tag`. */
  sealAesGcm(key: Uint8Array, iv: Uint8Array, additionalData: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array>;
  /** The plain text of `ciphertext ‖ tag`, or `undefined` when it does not authenticate. */
  openAesGcm(key: Uint8Array, iv: Uint8Array, additionalData: Uint8Array, sealed: Uint8Array): Promise<Uint8Array | undefined>;
}

const TAG_BYTES = 16;

/** `node:crypto`, synchronous underneath. */
export function nodeCrypto(crypto: typeof NodeCrypto): PortableCrypto {
  // HMAC keys are few (derived once per secret) and used on every cookie: a KeyObject made once
  // spares Node converting the bytes on each call (a quarter of an HMAC's cost).
  const keyObjects = new WeakMap<Uint8Array, NodeCrypto.KeyObject>();
  const keyObject = (key: Uint8Array): NodeCrypto.KeyObject => {
    let made = keyObjects.get(key);
    if (made === undefined) keyObjects.set(key, (made = crypto.createSecretKey(key)));
    return made;
  };
  return {
    name: "node",
    hkdf: async (secret, salt, info, length) => new Uint8Array(crypto.hkdfSync("sha256", secret, salt, info, length)),
    hmacSha256: async (key, message) => crypto.createHmac("sha256", keyObject(key)).update(message).digest(),
    hmacSha512: async (key, message) => crypto.createHmac("sha512", keyObject(key)).update(message).digest(),
    sealAesGcm: async (key, iv, additionalData, plaintext) => {
      const cipher = crypto.createCipheriv("aes-256-gcm", key, iv);
      cipher.setAAD(additionalData);
      return concatBytes(cipher.update(plaintext), cipher.final(), cipher.getAuthTag());
    },
    openAesGcm: async (key, iv, additionalData, sealed) => {
      if (sealed.length < TAG_BYTES) return undefined;
      const decipher = crypto.createDecipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(additionalData);
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      try {
        return concatBytes(decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final());
      } catch {
        return undefined; // wrong key or altered: the tag does not authenticate
      }
    },
  };
}

/** Web Crypto. Imported keys are kept per key bytes (HMAC keys are few: one per secret). */
export function webCrypto(subtle: webcrypto.SubtleCrypto): PortableCrypto {
  const hmacKeys = { "SHA-256": new WeakMap<Uint8Array, Promise<webcrypto.CryptoKey>>(), "SHA-512": new WeakMap<Uint8Array, Promise<webcrypto.CryptoKey>>() };
  const hmacKey = (key: Uint8Array, hash: keyof typeof hmacKeys): Promise<webcrypto.CryptoKey> => {
    let imported = hmacKeys[hash].get(key);
    if (imported === undefined) {
      imported = subtle.importKey("raw", key, { name: "HMAC", hash }, false, ["sign"]);
      hmacKeys[hash].set(key, imported);
    }
    return imported;
  };
  const aes = (key: Uint8Array, usage: webcrypto.KeyUsage) => subtle.importKey("raw", key, "AES-GCM", false, [usage]);
  return {
    name: "web",
    hkdf: async (secret, salt, info, length) => {
      const material = await subtle.importKey("raw", utf8(secret), "HKDF", false, ["deriveBits"]);
      return new Uint8Array(await subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt, info: utf8(info) }, material, length * 8));
    },
    hmacSha256: async (key, message) => new Uint8Array(await subtle.sign("HMAC", await hmacKey(key, "SHA-256"), utf8(message))),
    hmacSha512: async (key, message) => new Uint8Array(await subtle.sign("HMAC", await hmacKey(key, "SHA-512"), message)),
    sealAesGcm: async (key, iv, additionalData, plaintext) =>
      new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv, additionalData, tagLength: TAG_BYTES * 8 }, await aes(key, "encrypt"), plaintext)),
    openAesGcm: async (key, iv, additionalData, sealed) => {
      if (sealed.length < TAG_BYTES) return undefined;
      try {
        return new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv, additionalData, tagLength: TAG_BYTES * 8 }, await aes(key, "decrypt"), sealed));
      } catch {
        return undefined; // OperationError: the tag does not authenticate
      }
    },
  };
}

const node = nodeBuiltin<typeof NodeCrypto>("node:crypto");

/** The implementation this runtime uses: node:crypto when present, else Web Crypto. */
export const portableCrypto: PortableCrypto = node ? nodeCrypto(node) : webCrypto(globalThis.crypto.subtle);

/** CSPRNG output drawn ahead in one call and handed out once each: a call per key or salt costs more than the bytes. */
const POOL_BYTES = 4096;
let pool = new Uint8Array(0);
let poolOffset = 0;

/** `length` fresh bytes from the CSPRNG (Web Crypto's, which every runtime here has); no byte is ever handed out twice. */
export function randomBytes(length: number): Uint8Array {
  if (length > POOL_BYTES) return globalThis.crypto.getRandomValues(new Uint8Array(length));
  if (poolOffset + length > pool.length) {
    // getRandomValues fills at most 65,536 bytes a call; 4 KiB is one call.
    pool = globalThis.crypto.getRandomValues(new Uint8Array(POOL_BYTES));
    poolOffset = 0;
  }
  const bytes = pool.slice(poolOffset, poolOffset + length);
  poolOffset += length;
  return bytes;
}

/**
 * SHA-256 of `text` (UTF-8) as lower-case hex, synchronously: `node:crypto` where present, else
 * @noble/hashes (audited, dependency-free), since Web Crypto's digest is async and key hashing is not.
 */
export function sha256Hex(text: string): string {
  if (oneShotHash) return oneShotHash("sha256", text, "hex");
  if (node) return node.createHash("sha256").update(text).digest("hex");
  return toHex(nobleSha256(utf8(text)));
}
/**
 * HMAC-SHA256 of `message` under `key` (both UTF-8), synchronously: `node:crypto` where present,
 * else @noble/hashes. For the CSRF tokens, whose API is synchronous (the cookie backends use the
 * async {@link PortableCrypto.hmacSha256}); both give the same bytes.
 */
export function hmacSha256Sync(key: string, message: string): Uint8Array {
  if (node) return node.createHmac("sha256", key).update(message).digest();
  return nobleHmac(nobleSha256, utf8(key), utf8(message));
}

/** `crypto.hash` (Node 20.12+), a third of the cost of a Hash object; absent on older Node 20s. */
const oneShotHash = (node as { hash?: (algorithm: string, data: string, encoding: "hex") => string } | undefined)?.hash;
