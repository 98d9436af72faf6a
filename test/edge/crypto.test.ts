/**
 * The two crypto implementations (node:crypto, Web Crypto) give the same bytes, so a cookie sealed
 * on Node opens on Workers and back; the plain SHA-256 that hashes keys where node:crypto is absent
 * matches Node's; key generation and the byte helpers work without Buffer.
 */
import { webcrypto } from "node:crypto";
import * as nodeCryptoModule from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fromBase64url, toBase64url, utf8, utf8Length } from "../../src/bytes.js";
import { nodeCrypto, randomBytes, webCrypto } from "../../src/crypto.js";
import { constantTimeEqual, generateKey } from "../../src/keys.js";

const nodeRaw = nodeCrypto(nodeCryptoModule);
// Node's answers are Buffers; compare plain bytes.
const plain = (bytes: Uint8Array | undefined) => (bytes === undefined ? undefined : Uint8Array.from(bytes));
const node = {
  hkdf: async (...args: Parameters<typeof nodeRaw.hkdf>) => plain(await nodeRaw.hkdf(...args)) as Uint8Array,
  hmacSha256: async (...args: Parameters<typeof nodeRaw.hmacSha256>) => plain(await nodeRaw.hmacSha256(...args)),
  hmacSha512: async (...args: Parameters<typeof nodeRaw.hmacSha512>) => plain(await nodeRaw.hmacSha512(...args)),
  sealAesGcm: async (...args: Parameters<typeof nodeRaw.sealAesGcm>) => plain(await nodeRaw.sealAesGcm(...args)) as Uint8Array,
  openAesGcm: async (...args: Parameters<typeof nodeRaw.openAesGcm>) => plain(await nodeRaw.openAesGcm(...args)),
};
const web = webCrypto(webcrypto.subtle);

describe("node:crypto and Web Crypto agree", () => {
  it("HKDF, HMAC and AES-GCM give identical bytes; each opens the other's", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 32, maxLength: 80 }), fc.uint8Array({ minLength: 0, maxLength: 600 }), async (secret, plaintext) => {
        const salt = randomBytes(16);
        const derived = await node.hkdf(secret, salt, "label", 44);
        expect(await web.hkdf(secret, salt, "label", 44)).toEqual(derived);
        const key = derived.subarray(0, 32);
        const iv = derived.subarray(32);
        expect(await web.hmacSha256(key, "message é")).toEqual(await node.hmacSha256(key, "message é"));
        expect(await web.hmacSha512(key, salt)).toEqual(await node.hmacSha512(key, salt));
        expect(await node.hmacSha512(key, salt)).toEqual(plain(nodeCryptoModule.createHmac("sha512", key).update(salt).digest()));
        const aad = utf8("e3");
        const sealed = await node.sealAesGcm(key, iv, aad, plaintext);
        expect(await web.sealAesGcm(key, iv, aad, plaintext)).toEqual(sealed);
        expect(await web.openAesGcm(key, iv, aad, sealed)).toEqual(plaintext);
        expect(await node.openAesGcm(key, iv, aad, sealed)).toEqual(plaintext);
        const altered = Uint8Array.from(sealed);
        altered[0] = (altered[0] ?? 0) ^ 1;
        expect(await web.openAesGcm(key, iv, aad, altered)).toBe(undefined);
        expect(await node.openAesGcm(key, iv, aad, altered)).toBe(undefined);
        expect(await web.openAesGcm(key, iv, utf8("e1"), sealed)).toBe(undefined);
        expect(await web.openAesGcm(key, iv, aad, sealed.subarray(0, 10))).toBe(undefined);
      }),
      { numRuns: 100 },
    );
  });
});

describe("bytes and keys without Buffer", () => {
  it("utf8Length counts as Buffer.byteLength does, lone surrogates included", () => {
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 200 }), (text) => utf8Length(text) === Buffer.byteLength(text)));
    for (const text of ["", "a", "é", "€", "😀", "\ud800", "\udc00x", "a\ud83d"]) expect(utf8Length(text)).toBe(Buffer.byteLength(text));
  });

  it("base64url round trips; characters outside the alphabet are refused", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(Array.from(fromBase64url(toBase64url(bytes)) ?? [])).toEqual(Array.from(bytes));
      }),
    );
    expect(toBase64url(Uint8Array.of(251, 255))).toBe("-_8");
    for (const bad of ["a+b", "a/b", "ab=", "a b", "A"]) expect(fromBase64url(bad)).toBe(undefined);
  });

  it("randomBytes: drawn ahead in one pool, each byte handed out once, each answer its own copy", () => {
    // 1000 draws of 16 bytes cross the 4096-byte pool several times.
    const draws = Array.from({ length: 1000 }, () => randomBytes(16));
    expect(new Set(draws.map((bytes) => toBase64url(bytes))).size).toBe(1000);
    expect(draws.every((bytes) => bytes.length === 16 && bytes.byteOffset === 0 && bytes.buffer.byteLength === 16)).toBe(true);
    expect(randomBytes(5000).length).toBe(5000); // larger than the pool: drawn directly
  });

  it("generateKey: 32 characters of [a-z0-9], every character drawn", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const key = generateKey();
      expect(key).toMatch(/^[a-z0-9]{32}$/);
      for (const char of key) seen.add(char);
    }
    expect(seen.size).toBe(36);
  });

  it("constantTimeEqual: equal only for the same string", () => {
    expect(constantTimeEqual("abc", "abc")).toBe(true);
    expect(constantTimeEqual("abc", "abd")).toBe(false);
    expect(constantTimeEqual("abc", "ab")).toBe(false);
    expect(constantTimeEqual("", "")).toBe(true);
    expect(constantTimeEqual("é", "e")).toBe(false);
  });
});
