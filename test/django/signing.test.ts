/**
 * Django's signing format, byte for byte: the worked examples A–G of
 * shared/reference/django-semantics.md §5.2 (secret "django-insecure-test-secret", time
 * 1700000000.25), base62, rotation, expiry and compressed round trips.
 */
import { createHash } from "node:crypto";
import { inflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import {
  b62Decode,
  b62Encode,
  b64Decode,
  BadSignature,
  DEFAULT_SALT,
  dumps,
  loads,
  MAX_JSON_DEPTH,
  parsePythonJson,
  PythonFloat,
  pythonFloatRepr,
  pythonJson,
  saltedHmac,
  SESSION_STORE_SALT,
  SIGNED_COOKIES_SALT,
  SignatureExpired,
  signPayload,
  unsignPayload,
} from "tessera-sessions/django";

const SECRET = "django-insecure-test-secret";
const NOW = 1_700_000_000_250; // time.time() = 1700000000.25
const cart = { cart: Array.from({ length: 20 }, (_, i) => `item-${i}`) };

describe("worked examples (§5.2)", () => {
  it("A: signing.dumps('hello') with the default salt", () => {
    expect(pythonJson("hello")).toBe('"hello"');
    const derived = createHash("sha256").update(`${DEFAULT_SALT}signer${SECRET}`).digest("hex");
    expect(derived).toBe("1434870b20b94c65597652a155b3019b4bf5a9472d2b09978ca8ff3008a6ba0a");
    expect(saltedHmac(`${DEFAULT_SALT}signer`, "ImhlbGxvIg:1r31eq", SECRET).toString("hex")).toBe(
      "d8d978c0daf2917f90dbe96e4a6c492cecc9af991080430995e34a8ca8248591",
    );
    expect(dumps("hello", { secret: SECRET, now: NOW })).toBe("ImhlbGxvIg:1r31eq:2Nl4wNrykX-Q2-luSmxJLOzJr5kQgEMJleNKjKgkhZE");
    expect(loads("ImhlbGxvIg:1r31eq:2Nl4wNrykX-Q2-luSmxJLOzJr5kQgEMJleNKjKgkhZE", { secrets: SECRET })).toBe("hello");
  });

  it("B: a signed_cookies session (not compressed: too short)", () => {
    expect(createHash("sha256").update(`${SIGNED_COOKIES_SALT}signer${SECRET}`).digest("hex")).toBe(
      "6fa9adfad2851c21e9b40a31507f0f1d88b0e9fa2c3b7f0a0cf4d7b6fe0ca020",
    );
    const value = dumps({ foo: "bar" }, { secret: SECRET, salt: SIGNED_COOKIES_SALT, compress: true, now: NOW });
    expect(value).toBe("eyJmb28iOiJiYXIifQ:1r31eq:otrv9qOVaMLX-0BWajsGQGyb2MlF3hohu0wSNpqQlbM");
    expect(loads(value, { secrets: SECRET, salt: SIGNED_COOKIES_SALT })).toEqual({ foo: "bar" });
  });

  it("C: db/file session_data", () => {
    expect(createHash("sha256").update(`${SESSION_STORE_SALT}signer${SECRET}`).digest("hex")).toBe(
      "d2975a6cf2787130cc75144611f2ea7aa288d0ea2004225b1df19bed21088968",
    );
    expect(dumps({ foo: "bar" }, { secret: SECRET, salt: SESSION_STORE_SALT, compress: true, now: NOW })).toBe(
      "eyJmb28iOiJiYXIifQ:1r31eq:hQWPZlcJ-SWOgpRDSESLywI0AEsp95i2Op_1h4zFvUQ",
    );
  });

  it("D: compressed (200 bytes of JSON, 82 of zlib), byte-identical for this fixture", () => {
    const json = pythonJson(cart);
    expect(json.length).toBe(200);
    const value = dumps(cart, { secret: SECRET, salt: SIGNED_COOKIES_SALT, compress: true, now: NOW });
    expect(value).toBe(
      ".eJxFzTEOQEAARNG7TE1iFsvuVUQholBsI9uJuytkRveq_2_s21WRF5z1KG2H5gOFIPTCIIxCFCZhFpKDf9ptOk7X6Tzdpwf0gV4wYX1eJLw3oQ:1r31eq:Y8F4pHUbW0hMP0ttk5nbHEBmpaAWjJ9Yz1lQniVgqLA",
    );
    expect(b64Decode(value.slice(1, value.indexOf(":"))).length).toBe(82);
    expect(loads(value, { secrets: SECRET, salt: SIGNED_COOKIES_SALT })).toEqual(cart);
  });

  it("E: non-ASCII escaped as lower-case \\uXXXX, surrogate pairs, 1.0 kept", () => {
    const data = { name: "Zoë 😀", n: new PythonFloat(1), t: true, z: null };
    expect(pythonJson(data)).toBe('{"name":"Zo\\u00eb \\ud83d\\ude00","n":1.0,"t":true,"z":null}');
    const value = dumps(data, { secret: SECRET, salt: SIGNED_COOKIES_SALT, compress: true, now: NOW });
    expect(value).toBe("eyJuYW1lIjoiWm9cdTAwZWIgXHVkODNkXHVkZTAwIiwibiI6MS4wLCJ0Ijp0cnVlLCJ6IjpudWxsfQ:1r31eq:c3TbZVvpfgNeanmiHNZIdFfDUpxN9MR8iElxOnjWIQw");
    // Reading it back keeps the fact that n was a float, so writing it again is byte-identical.
    const { json } = unsignPayload(value, { secrets: SECRET, salt: SIGNED_COOKIES_SALT });
    const parsed = parsePythonJson(json);
    expect({ ...(parsed.value as object) }).toEqual({ name: "Zoë 😀", n: 1, t: true, z: null });
    expect([...parsed.floats]).toEqual([['["n"]', 1]]);
    expect(pythonJson(parsed.value, parsed.floats)).toBe(json);
  });

  it("F: rotation: a value signed with an old secret loads through the fallback; new values use the newest", () => {
    // §5.2 F does not name the salt: it is the signed_cookies one (checked against Django 3.2).
    const opts = { salt: SIGNED_COOKIES_SALT, compress: true, now: NOW };
    const old = dumps({ foo: "bar" }, { ...opts, secret: "old-secret" });
    expect(old).toBe("eyJmb28iOiJiYXIifQ:1r31eq:GJ_gGSd2Jm_LQ5kaFL9ybfioYrIvv3X4vrCyL1zsejM");
    expect(() => loads(old, { secrets: SECRET, salt: SIGNED_COOKIES_SALT })).toThrow(new BadSignature("Signature does not match"));
    const opened = unsignPayload(old, { secrets: [SECRET, "old-secret"], salt: SIGNED_COOKIES_SALT });
    expect(opened).toEqual({ json: '{"foo":"bar"}', timestamp: 1_700_000_000, secretIndex: 1 });
    // New signatures always use the newest secret (example B), which verifies at index 0.
    const fresh = dumps({ foo: "bar" }, { ...opts, secret: SECRET });
    expect(fresh).toBe("eyJmb28iOiJiYXIifQ:1r31eq:otrv9qOVaMLX-0BWajsGQGyb2MlF3hohu0wSNpqQlbM");
    expect(unsignPayload(fresh, { secrets: [SECRET, "old-secret"], salt: SIGNED_COOKIES_SALT }).secretIndex).toBe(0);
  });

  it("G: expiry: signed at T, loaded at T+100", () => {
    const value = dumps("x", { secret: SECRET, now: 1_700_000_000_000 });
    const now = 1_700_000_100_000;
    expect(() => loads(value, { secrets: SECRET, maxAge: 99, now })).toThrow(new SignatureExpired("Signature age 100 > 99 seconds"));
    expect(loads(value, { secrets: SECRET, maxAge: 100, now })).toBe("x");
    expect(() => loads(value, { secrets: SECRET, maxAge: 99, now })).toThrow(BadSignature); // a subclass
  });
});

describe("base62", () => {
  it("encodes Django's examples and round-trips", () => {
    expect([0, 61, 62, 1_234_567_890, 1_700_000_000, -62].map(b62Encode)).toEqual(["0", "z", "10", "1LY7VK", "1r31eq", "-10"]);
    for (const n of [0, 1, 61, 62, 3843, 3844, 1_700_000_000, 2 ** 40, -5]) expect(b62Decode(b62Encode(n))).toBe(n);
    expect(() => b62Decode("1r3!eq")).toThrow(BadSignature);
  });
});

describe("tampering and malformed values", () => {
  const good = "eyJmb28iOiJiYXIifQ:1r31eq:hQWPZlcJ-SWOgpRDSESLywI0AEsp95i2Op_1h4zFvUQ";
  const opts = { secrets: SECRET, salt: SESSION_STORE_SALT };
  it("rejects a missing colon, a wrong salt, a changed payload, timestamp or signature", () => {
    expect(() => loads("nocolon", opts)).toThrow(new BadSignature('No ":" found in value'));
    expect(() => loads(good, { secrets: SECRET, salt: SIGNED_COOKIES_SALT })).toThrow(BadSignature);
    expect(() => loads(good.replace("eyJm", "eyJn"), opts)).toThrow(BadSignature);
    expect(() => loads(good.replace("1r31eq", "1r31er"), opts)).toThrow(BadSignature);
    expect(() => loads(`${good.slice(0, -1)}A`, opts)).toThrow(BadSignature);
    expect(() => loads(good.slice(0, -1), opts)).toThrow(BadSignature);
  });
  it("rejects a signed payload that is not base64, zlib or JSON", () => {
    const sign = (payload: string) => signPayload("x", { secret: SECRET, now: NOW }).replace(/^[^:]*/, payload);
    for (const payload of ["!!", ".eyJmb28iOiJiYXIifQ", "bm90IGpzb24"]) {
      const value = `${payload}:1r31eq`;
      const signed = `${value}:${saltedHmac(`${DEFAULT_SALT}signer`, value, SECRET).toString("base64url")}`;
      expect(() => loads(signed, { secrets: SECRET })).toThrow(BadSignature);
      expect(sign(payload)).toContain(payload);
    }
  });
  it("caps nesting at MAX_JSON_DEPTH with a SyntaxError, where recursion once overflowed the stack", () => {
    const nested = (depth: number, open = "[", close = "]") => `${open.repeat(depth)}${close.repeat(depth)}`;
    expect(MAX_JSON_DEPTH).toBe(1000);
    let inner: unknown = parsePythonJson(nested(1000)).value;
    for (let level = 1; level < 1000; level++) inner = (inner as unknown[])[0];
    expect(inner).toEqual([]);
    expect(() => parsePythonJson(nested(1001))).toThrow(new SyntaxError("Invalid JSON at 1000: nested deeper than 1000 levels"));
    expect(() => parsePythonJson(nested(5000))).toThrow(SyntaxError);
    expect(() => parsePythonJson('{"a":'.repeat(3000) + "1" + "}".repeat(3000))).toThrow(/nested deeper than 1000 levels/);
    // Siblings do not add up: depth is the nesting, not the count.
    expect(parsePythonJson(`[${Array.from({ length: 2000 }, () => "[[]]").join(",")}]`).value).toHaveLength(2000);
    const signed = signPayload(nested(3000), { secret: SECRET, now: NOW, compress: true });
    expect(() => loads(signed, { secrets: SECRET, now: NOW })).toThrow(new BadSignature("Payload is not JSON"));
  });
  it("bounds inflation with maxInflatedBytes: a compression bomb is a BadSignature", () => {
    const big = JSON.stringify({ a: "x".repeat(100_000) });
    const signed = signPayload(big, { secret: SECRET, now: NOW, compress: true });
    expect(signed.length).toBeLessThan(1000);
    expect(unsignPayload(signed, { secrets: SECRET, now: NOW }).json).toBe(big);
    expect(unsignPayload(signed, { secrets: SECRET, now: NOW, maxInflatedBytes: big.length }).json).toBe(big);
    expect(() => unsignPayload(signed, { secrets: SECRET, now: NOW, maxInflatedBytes: big.length - 1 })).toThrow(
      new BadSignature("Payload does not decompress (or inflates beyond maxInflatedBytes)"),
    );
  });
  it("refuses to sign non-ASCII JSON (Python would read it as Latin-1)", () => {
    expect(() => signPayload('"é"', { secret: SECRET })).toThrow(TypeError);
  });
});

describe("compressed round trips", () => {
  it("compresses only when it saves two bytes, and always decodes to the same data", () => {
    const big = { cart: Array.from({ length: 300 }, (_, i) => ({ sku: `sku-${i % 7}`, qty: i % 3, note: "Zoë" })) };
    const value = dumps(big, { secret: SECRET, salt: SESSION_STORE_SALT, compress: true, now: NOW });
    expect(value.startsWith(".")).toBe(true);
    const payload = value.slice(1, value.indexOf(":"));
    // Compare compressed values by decoding: zlib builds may differ byte-wise.
    expect(inflateSync(b64Decode(payload)).toString("latin1")).toBe(pythonJson(big));
    expect(loads(value, { secrets: SECRET, salt: SESSION_STORE_SALT })).toEqual(big);
    expect(dumps({ a: 1 }, { secret: SECRET, compress: true, now: NOW }).startsWith(".")).toBe(false);
    expect(dumps(big, { secret: SECRET, now: NOW }).startsWith(".")).toBe(false); // compress off
  });
});

describe("Python-compatible JSON", () => {
  it("writes floats as repr does", () => {
    const cases: [number, string][] = [
      [1, "1.0"],
      [1e16, "1e+16"],
      [1e15, "1000000000000000.0"],
      [1234567890123456, "1234567890123456.0"],
      [0.0001, "0.0001"],
      [0.00001, "1e-05"],
      [1.5e-7, "1.5e-07"],
      [1e100, "1e+100"],
      [-2.5, "-2.5"],
      [123456789012345680, "1.2345678901234568e+17"],
      [5e-324, "5e-324"],
      [1.7976931348623157e308, "1.7976931348623157e+308"],
      [0.1 + 0.2, "0.30000000000000004"],
      [-0, "-0.0"],
      [NaN, "NaN"],
      [-Infinity, "-Infinity"],
    ];
    for (const [n, repr] of cases) expect(pythonFloatRepr(n)).toBe(repr);
  });
  it("writes ints exactly, escapes DEL, controls, U+2028 and lone surrogates, keeps insertion order", () => {
    expect(pythonJson({ b: 1e21, a: [0.5, -3, "\u007f\n\u0001\u2028\ud800"], é: {} })).toBe(
      '{"b":1000000000000000000000,"a":[0.5,-3,"\\u007f\\n\\u0001\\u2028\\ud800"],"\\u00e9":{}}',
    );
  });
  it("parses what Python writes: NaN and Infinity as null, __proto__ as a plain key", () => {
    const parsed = parsePythonJson('{"__proto__":{"x":2.0},"n":NaN,"i":-Infinity,"e":1E3,"f":1.5}');
    expect(parsed.hadNonFinite).toBe(true);
    expect(JSON.stringify(parsed.value)).toBe('{"__proto__":{"x":2},"n":null,"i":null,"e":1000,"f":1.5}');
    expect([...parsed.floats]).toEqual([
      ['["__proto__","x"]', 2],
      ['["e"]', 1000],
    ]);
    // A hint applies only to the same value at the same path: a shifted list stays ints.
    const list = parsePythonJson('{"cart":[1.0,2]}');
    expect(pythonJson(list.value, list.floats)).toBe('{"cart":[1.0,2]}');
    expect(pythonJson({ cart: [2] }, list.floats)).toBe('{"cart":[2]}');
    expect(pythonJson({ cart: [1, 1] }, list.floats)).toBe('{"cart":[1.0,1]}');
    expect(() => parsePythonJson('{"a":1,}')).toThrow(SyntaxError);
    expect(() => parsePythonJson("[1] x")).toThrow(SyntaxError);
  });
});
