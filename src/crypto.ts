/**
 * The cryptography the cookie backends need, on any runtime: Node's `node:crypto` where the
 * runtime has it (5 to 10 times faster on Node: docs/runtimes.md), else Web Crypto (`crypto.subtle`), which
 * Cloudflare Workers, Vercel Edge, Deno and Bun all have. Both give the same bytes, so a cookie
 * sealed on one runtime opens on another. Every operation is async, as Web Crypto is.
 * @module
 */
import type * as NodeCrypto from "node:crypto";
import type { webcrypto } from "node:crypto";
import { concatBytes, toHex, utf8 } from "./bytes.js";
import { nodeBuiltin } from "./runtime.js";

/** The operations, one implementation per platform. */
export interface PortableCrypto {
  readonly name: "node" | "web";
  /** HKDF-SHA256 of `secret` (UTF-8) with `salt` and `info`, `length` bytes. */
  hkdf(secret: string, salt: Uint8Array, info: string, length: number): Promise<Uint8Array>;
  /** HMAC-SHA256 of `message` (UTF-8) under `key`. */
  hmacSha256(key: Uint8Array, message: string): Promise<Uint8Array>;
  /** AES-256-GCM: `ciphertext ‖ 16-byte tag`. */
  sealAesGcm(key: Uint8Array, iv: Uint8Array, additionalData: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array>;
  /** The plain text of `ciphertext ‖ tag`, or `undefined` when it does not authenticate. */
  openAesGcm(key: Uint8Array, iv: Uint8Array, additionalData: Uint8Array, sealed: Uint8Array): Promise<Uint8Array | undefined>;
}

const TAG_BYTES = 16;

/** `node:crypto`, synchronous underneath. */
export function nodeCrypto(crypto: typeof NodeCrypto): PortableCrypto {
  return {
    name: "node",
    hkdf: async (secret, salt, info, length) => new Uint8Array(crypto.hkdfSync("sha256", secret, salt, info, length)),
    hmacSha256: async (key, message) => crypto.createHmac("sha256", key).update(message).digest(),
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
  const hmacKeys = new WeakMap<Uint8Array, Promise<webcrypto.CryptoKey>>();
  const hmacKey = (key: Uint8Array): Promise<webcrypto.CryptoKey> => {
    let imported = hmacKeys.get(key);
    if (imported === undefined) {
      imported = subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      hmacKeys.set(key, imported);
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
    hmacSha256: async (key, message) => new Uint8Array(await subtle.sign("HMAC", await hmacKey(key), utf8(message))),
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

/** `length` bytes from the CSPRNG (Web Crypto's, which every runtime here has). */
export function randomBytes(length: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(length));
}

/**
 * SHA-256 of `text` (UTF-8) as lower-case hex, synchronously: `node:crypto` where present, else
 * a plain implementation (FIPS 180-4), since Web Crypto's digest is async and key hashing is not.
 */
export function sha256Hex(text: string): string {
  if (oneShotHash) return oneShotHash("sha256", text, "hex");
  if (node) return node.createHash("sha256").update(text).digest("hex");
  return toHex(sha256(utf8(text)));
}
/** `crypto.hash` (Node 20.12+), a third of the cost of a Hash object; absent on older Node 20s. */
const oneShotHash = (node as { hash?: (algorithm: string, data: string, encoding: "hex") => string } | undefined)?.hash;

const ROUND = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** SHA-256 (FIPS 180-4 section 6.2) of `message`. */
export function sha256(message: Uint8Array): Uint8Array {
  // Padding: a 1 bit, zeros, then the bit length as a 64-bit big-endian number, to a multiple of 64 bytes.
  const blocks = Math.ceil((message.length + 9) / 64);
  const padded = new Uint8Array(blocks * 64);
  padded.set(message);
  padded[message.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(message.length / 0x20000000));
  view.setUint32(padded.length - 4, (message.length * 8) >>> 0);
  const state = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const w = new Uint32Array(64);
  const rotr = (x: number, n: number) => (x >>> n) | (x << (32 - n));
  for (let block = 0; block < blocks; block++) {
    for (let t = 0; t < 16; t++) w[t] = view.getUint32(block * 64 + t * 4);
    for (let t = 16; t < 64; t++) {
      const w15 = w[t - 15] as number;
      const w2 = w[t - 2] as number;
      const s0 = rotr(w15, 7) ^ rotr(w15, 18) ^ (w15 >>> 3);
      const s1 = rotr(w2, 17) ^ rotr(w2, 19) ^ (w2 >>> 10);
      w[t] = (w[t - 16] as number) + s0 + (w[t - 7] as number) + s1;
    }
    let [a, b, c, d, e, f, g, h] = state as unknown as [number, number, number, number, number, number, number, number];
    for (let t = 0; t < 64; t++) {
      const t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + (ROUND[t] as number) + (w[t] as number)) >>> 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) >>> 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) >>> 0;
    }
    state[0] = (state[0] as number) + a;
    state[1] = (state[1] as number) + b;
    state[2] = (state[2] as number) + c;
    state[3] = (state[3] as number) + d;
    state[4] = (state[4] as number) + e;
    state[5] = (state[5] as number) + f;
    state[6] = (state[6] as number) + g;
    state[7] = (state[7] as number) + h;
  }
  const digest = new Uint8Array(32);
  const out = new DataView(digest.buffer);
  for (let i = 0; i < 8; i++) out.setUint32(i * 4, state[i] as number);
  return digest;
}
