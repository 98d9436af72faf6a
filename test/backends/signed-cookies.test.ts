import { Buffer } from "node:buffer";
import { decodeData } from "../../src/codec.js";
import { createCipheriv, createDecipheriv, createHmac, hkdfSync } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConfigurationError, CookieTooLargeError, createSessions, readCookie, type SessionsOptions } from "tessera-sessions";
import { signedCookieBackend } from "tessera-sessions/backends/signed-cookies";
import { runBackendSuite } from "tessera-sessions/testing";
import { recordingLogger } from "../helpers.js";

const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;
const A = "secret-A-0123456789abcdefghijklmnopqrstuvwxyz";
const B = "secret-B-0123456789abcdefghijklmnopqrstuvwxyz";
const CORRUPTED = "[tessera] Session data corrupted: a session cookie failed verification; the request gets an empty session.";

runBackendSuite({ name: "signed cookies", kind: "cookie", create: () => signedCookieBackend(), describe, it });
runBackendSuite({ name: "encrypted cookies", kind: "cookie", create: () => signedCookieBackend({ encrypt: true }), describe, it });

/** The documented key derivation, computed independently of the backend. */
const derive = (secret: string, label: string) => Buffer.from(hkdfSync("sha256", secret, "tessera", label, 32));

function setup(encrypt: boolean, options: SessionsOptions = {}) {
  const clock = { now: T0 };
  const logger = recordingLogger();
  const sessions = createSessions({
    backend: signedCookieBackend({ encrypt }),
    secret: [A],
    clock: () => clock.now,
    logger,
    cookie: { secure: false },
    ...options,
  });
  /** Runs one request: opens with `cookie`, lets `view` act, commits, returns the new cookie value. */
  const request = async (cookie: string | undefined, view: (s: ReturnType<typeof sessions.open>) => Promise<void>, status = 200) => {
    const session = sessions.open(cookie);
    await view(session);
    const result = await sessions.commit(session, status);
    return { session, result, value: result.setCookie === undefined ? undefined : readCookie(result.setCookie.split(";")[0], "sessionid") };
  };
  return { clock, logger, sessions, request };
}

describe("the documented formats", () => {
  it("signed: v1.<base64url JSON payload>.<HMAC-SHA256 over 'v1.'+payload>, exactly", async () => {
    const value = await signedCookieBackend().encode('{"user":"jane"}', T0 + HOUR, T0, [A]);
    const payload = Buffer.from(`{"exp":${T0 + HOUR},"data":{"user":"jane"}}`).toString("base64url");
    const mac = createHmac("sha256", derive(A, "tessera/signed-cookies/v1/hmac-sha256")).update(`v1.${payload}`).digest("base64url");
    expect(value).toBe(`v1.${payload}.${mac}`);
    expect(value).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
  });

  it("encrypted: e3.<base64url(salt ‖ ciphertext ‖ tag)>, AES-256-GCM with a key and IV per cookie from HMAC-SHA512(K_enc, salt), 'e3' as additional data", async () => {
    const value = await signedCookieBackend({ encrypt: true }).encode('{"user":"jane"}', T0 + HOUR, T0, [A]);
    expect(value).toMatch(/^e3\.[A-Za-z0-9_-]+$/);
    const blob = Buffer.from(value.slice(3), "base64url");
    const salt = blob.subarray(0, 16);
    const material = createHmac("sha512", derive(A, "tessera/signed-cookies/e3/aes-256-gcm")).update(salt).digest();
    const decipher = createDecipheriv("aes-256-gcm", material.subarray(0, 32), material.subarray(32, 44));
    decipher.setAAD(Buffer.from("e3"));
    decipher.setAuthTag(blob.subarray(-16));
    const plain = Buffer.concat([decipher.update(blob.subarray(16, -16)), decipher.final()]).toString();
    expect(plain).toBe(`{"exp":${T0 + HOUR},"data":{"user":"jane"}}`);
    expect(blob.length).toBe(16 + plain.length + 16);
  });

  it("every encrypted cookie has its own key: 1000 values, 1000 distinct salts", async () => {
    const backend = signedCookieBackend({ encrypt: true });
    const values = await Promise.all(Array.from({ length: 1000 }, () => backend.encode("{}", T0 + HOUR, T0, [A])));
    const salts = new Set(values.map((value) => Buffer.from(value.slice(3), "base64url").subarray(0, 16).toString("hex")));
    expect(salts.size).toBe(1000);
  });

  it("an e2 cookie (key and IV from HKDF(secret, salt)) still opens, as stale, and is re-issued as e3", async () => {
    const salt = Buffer.alloc(16, 9);
    const material = Buffer.from(hkdfSync("sha256", A, salt, "tessera/signed-cookies/e2/aes-256-gcm", 44));
    const cipher = createCipheriv("aes-256-gcm", material.subarray(0, 32), material.subarray(32));
    cipher.setAAD(Buffer.from("e2"));
    const body = Buffer.concat([cipher.update(`{"exp":${T0 + HOUR},"data":{"user":"jane"}}`), cipher.final()]);
    const old = `e2.${Buffer.concat([salt, body, cipher.getAuthTag()]).toString("base64url")}`;
    const backend = signedCookieBackend({ encrypt: true });
    expect(await backend.decode(old, T0, [A])).toEqual({ data: '{"user":"jane"}', expiresAt: T0 + HOUR, stale: true, decoded: decodeData('{"user":"jane"}') });
    expect(await backend.decode(old, T0, [B])).toBe(null);
    expect(await backend.decode(old, T0 + HOUR, [A])).toBe(null);
    expect(await backend.decode(`e2.${old.slice(3, -2)}AA`, T0, [A])).toBe(null);
    // Its salt read as an e3 salt gives another key: the version is bound, not guessed.
    expect(await backend.decode(`e3.${old.slice(3)}`, T0, [A])).toBe(null);
    const { request } = setup(true);
    const out = await request(old, async (s) => expect(await s.get("user")).toBe("jane"));
    expect(out.value).toMatch(/^e3\./);
    expect((await backend.decode(out.value as string, T0, [A]))?.stale).toBe(false);
  });

  it("an old e1 cookie (one key per secret, random IV) still opens, as stale, and is re-issued as e3", async () => {
    const iv = Buffer.alloc(12, 7);
    const cipher = createCipheriv("aes-256-gcm", derive(A, "tessera/signed-cookies/e1/aes-256-gcm"), iv);
    cipher.setAAD(Buffer.from("e1"));
    const body = Buffer.concat([cipher.update(`{"exp":${T0 + HOUR},"data":{"user":"jane"}}`), cipher.final()]);
    const old = `e1.${Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64url")}`;
    const backend = signedCookieBackend({ encrypt: true });
    expect(await backend.decode(old, T0, [A])).toEqual({ data: '{"user":"jane"}', expiresAt: T0 + HOUR, stale: true, decoded: decodeData('{"user":"jane"}') });
    expect(await backend.decode(old, T0, [B])).toBe(null);
    expect(await backend.decode(old, T0 + HOUR, [A])).toBe(null); // its sealed expiry still decides
    expect(await backend.decode(`e1.${old.slice(3, -2)}AA`, T0, [A])).toBe(null);
    const { request } = setup(true);
    const out = await request(old, async (s) => expect(await s.get("user")).toBe("jane"));
    expect(out.value).toMatch(/^e3\./);
    expect(await backend.decode(out.value as string, T0, [A])).toEqual({
      data: '{"user":"jane"}',
      expiresAt: T0 + 14 * 24 * HOUR,
      stale: false,
      decoded: decodeData('{"user":"jane"}'),
    });
  });

  it("encrypted values hide the plaintext and never repeat (random IV)", async () => {
    const backend = signedCookieBackend({ encrypt: true });
    const data = '{"user":"jane","card":"4111111111111111"}';
    const values = new Set(await Promise.all(Array.from({ length: 50 }, () => backend.encode(data, T0 + HOUR, T0, [A]))));
    expect(values.size).toBe(50);
    for (const value of values) {
      for (const needle of ["jane", "4111", Buffer.from("jane").toString("base64url"), Buffer.from(data).toString("base64url").slice(0, 8)]) {
        expect(value).not.toContain(needle);
        expect(Buffer.from(value.slice(3), "base64url").toString("latin1")).not.toContain("jane");
      }
    }
  });

  it("encode without a secret is a ConfigurationError, and so is a cookie backend without one", async () => {
    await expect(signedCookieBackend().encode("{}", T0, T0, [])).rejects.toThrow(ConfigurationError);
    expect(() => createSessions({ backend: signedCookieBackend() })).toThrow(ConfigurationError);
    expect(() => signedCookieBackend({ encrypt: "yes" as unknown as boolean })).toThrow(ConfigurationError);
  });
});

for (const encrypt of [false, true]) {
  describe(encrypt ? "encrypted cookies" : "signed cookies", () => {
    const backend = signedCookieBackend({ encrypt });

    it("round trip keeps the data byte for byte, hostile keys included", async () => {
      const data = JSON.stringify({ __proto__: null, emoji: "Zoë 😀", nested: { a: [1, 2.5, null, true] }, quote: "'\"\\;, =" }).replace(
        "{",
        '{"__proto__":{"x":1},',
      );
      const opened = await backend.decode(await backend.encode(data, T0 + HOUR, T0, [A]), T0, [A]);
      expect(opened).toEqual({ data, expiresAt: T0 + HOUR, stale: false, decoded: decodeData(data) });
      expect(({} as Record<string, unknown>)["x"]).toBe(undefined);
    });

    it("a wrong secret does not open it; a rotated one opens it as stale", async () => {
      const value = await backend.encode('{"a":1}', T0 + HOUR, T0, [B]);
      expect(await backend.decode(value, T0, [A])).toBe(null);
      expect(await backend.decode(value, T0, [A, B])).toEqual({ data: '{"a":1}', expiresAt: T0 + HOUR, stale: true, decoded: decodeData('{"a":1}') });
      expect(await backend.decode(value, T0, [B, A])).toEqual({ data: '{"a":1}', expiresAt: T0 + HOUR, stale: false, decoded: decodeData('{"a":1}') });
      expect(await backend.decode(value, T0, [])).toBe(null);
    });

    it("the sealed expiry decides, with the clock on either side of it", async () => {
      const value = await backend.encode("{}", T0 + 1000, T0, [A]);
      expect((await backend.decode(value, T0 - 10 * HOUR, [A]))?.expiresAt).toBe(T0 + 1000); // a clock behind is fine
      expect(await backend.decode(value, T0 + 999, [A])).not.toBe(null);
      expect(await backend.decode(value, T0 + 1000, [A])).toBe(null);
      expect(await backend.decode(value, T0 + 1000 * HOUR, [A])).toBe(null);
    });

    it("every single-character substitution is rejected (no second spelling of the same bytes)", async () => {
      const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
      // Three lengths, so the last base64 character carries unused bits in at least one of them.
      for (const data of ['{"a":1}', '{"ab":1}', '{"abc":1}']) {
        const value = await backend.encode(data, T0 + HOUR, T0, [A]);
        let tried = 0;
        for (let i = 0; i < value.length; i++) {
          for (const c of alphabet) {
            if (c === value[i]) continue;
            tried++;
            expect(await backend.decode(value.slice(0, i) + c + value.slice(i + 1), T0, [A])).toBe(null);
          }
        }
        expect(tried).toBe(value.length * 64);
      }
    });

    it("malformed values are null, never a throw", async () => {
      const good = await backend.encode('{"a":1}', T0 + HOUR, T0, [A]);
      const [prefix = "", body = ""] = good.split(".");
      const junk = [
        "",
        "v1",
        "e1",
        "e2",
        "e3",
        "v1.",
        "e1.",
        "e2.",
        "e3.",
        "v1..",
        "e1..",
        "e2..",
        "e3..",
        "v1.a.b",
        "e1.AAAA",
        "e2.AAAA",
        "e1." + "A".repeat(39),
        "e2." + "A".repeat(42),
        "e2." + "A".repeat(43),
        "e3." + "A".repeat(42),
        "e3." + "A".repeat(43),
        `${good}.`,
        `.${good}`,
        `${good}=`,
        good.replace(prefix, prefix === "v1" ? "e3" : "v1"),
        good.replace(prefix, prefix === "v1" ? "e1" : "e2"),
        good.replace(prefix, "e1"),
        `${good.slice(0, 5)}+${good.slice(6)}`,
        `${prefix}.${body}${body}`,
        good.slice(0, -1),
        `${good} `,
        "v1.eyJleHAiOjF9.AAAA",
        "x".repeat(100_000),
        "é".repeat(3000),
        "\u0000".repeat(64),
        // Correctly signed, but not a valid payload:
        await signedCookieBackend().encode("[1]", T0 + HOUR, T0, [A]),
        await signedCookieBackend().encode("null", T0 + HOUR, T0, [A]),
        await signedCookieBackend({ encrypt: true }).encode('"text"', T0 + HOUR, T0, [A]),
        await signedCookieBackend().encode("{", T0 + HOUR, T0, [A]),
        await signedCookieBackend().encode("{}", Number.NaN, T0, [A]),
      ];
      for (const value of junk) expect(await backend.decode(value, T0, [A]), JSON.stringify(value.slice(0, 80))).toBe(null);
    });

    it("decode never throws and opens nothing on arbitrary strings (fast-check)", async () => {
      const good = await backend.encode('{"a":1}', T0 + HOUR, T0, [A]);
      const mutated = fc
        .tuple(fc.nat({ max: good.length - 1 }), fc.string({ minLength: 1, maxLength: 3 }), fc.nat({ max: 3 }))
        .map(([at, text, cut]) => good.slice(0, at) + text + good.slice(at + cut));
      const arbitrary = fc.oneof(
        fc.string({ unit: "binary", maxLength: 300 }),
        fc.string({ unit: fc.constantFrom(..."ABCxyz019-_.=+/"), maxLength: 300 }),
        fc.string({ unit: fc.constantFrom(..."ABCxyz019-_"), maxLength: 300 }).map((s) => `${encrypt ? "e3" : "v1"}.${s}`),
        fc.tuple(fc.base64String({ maxLength: 200 }), fc.base64String({ maxLength: 60 })).map(([p, s]) => `v1.${p}.${s}`),
        mutated,
      );
      await fc.assert(
        fc.asyncProperty(arbitrary, async (value) => {
          const opened = await backend.decode(value, T0, [A, B]);
          return value === good ? opened !== null : opened === null;
        }),
        { numRuns: 1000 },
      );
    });

    it("end to end: the cookie value is the session key and reopens the session", async () => {
      const { request } = setup(encrypt);
      const first = await request(undefined, (s) => s.set("user", "jane"));
      expect(first.value).toBe(first.session.sessionKey);
      expect(first.result.setCookie).toBe(`sessionid=${first.value}; Max-Age=1209600; Path=/; Expires=Thu, 15 Jan 2026 00:00:00 GMT; HttpOnly; SameSite=Lax`);
      const second = await request(first.value, async (s) => expect(await s.get("user")).toBe("jane"));
      expect(second.result).toEqual({ setCookie: undefined, varyCookie: true }); // read only: nothing re-issued
    });

    it("end to end: flush sends the deletion cookie", async () => {
      const { request } = setup(encrypt);
      const { value } = await request(undefined, (s) => s.set("user", "jane"));
      const out = await request(value, (s) => s.flush());
      expect(out.result).toEqual({ setCookie: "sessionid=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Lax", varyCookie: true });
    });

    it("end to end: rotation re-issues a cookie an older secret opened, sealed with the newest", async () => {
      const old = setup(encrypt, { secret: [B] });
      const { value } = await old.request(undefined, (s) => s.set("user", "jane"));
      const rotated = setup(encrypt, { secret: [A, B] });
      const out = await rotated.request(value, async (s) => {
        expect(await s.get("user")).toBe("jane");
        expect(s.modified).toBe(true);
      });
      expect(out.value).not.toBe(value);
      expect(await backend.decode(out.value as string, T0, [A])).toEqual({
        data: '{"user":"jane"}',
        expiresAt: T0 + 1_209_600_000,
        stale: false,
        decoded: decodeData('{"user":"jane"}'),
      });
      expect(await backend.decode(out.value as string, T0, [B])).toBe(null);
      expect(rotated.logger.warnings).toEqual([]);
    });

    it("end to end: tampering with one character gives an empty session and a warning", async () => {
      const { request, logger } = setup(encrypt);
      const { value = "" } = await request(undefined, (s) => s.set("admin", false));
      const at = Math.floor(value.length / 2);
      const tampered = value.slice(0, at) + (value[at] === "A" ? "B" : "A") + value.slice(at + 1);
      const out = await request(tampered, async (s) => expect(await s.get("admin")).toBe(undefined));
      expect(logger.warnings).toEqual([CORRUPTED]);
      expect(out.session.modified).toBe(true); // a clean cookie replaces the bad one, as in Django
      expect((await backend.decode(out.value as string, T0, [A]))?.data).toBe("{}");
    });

    it("end to end: setExpiry(seconds) is enforced inside the cookie (Django ticket 27775 does not apply)", async () => {
      const { request, clock } = setup(encrypt);
      const { value } = await request(undefined, async (s) => {
        await s.set("user", "jane");
        await s.setExpiry(60);
      });
      expect((await backend.decode(value as string, T0, [A]))?.expiresAt).toBe(T0 + 60_000);
      clock.now = T0 + 59_999;
      await request(value, async (s) => expect(await s.get("user")).toBe("jane"));
      clock.now = T0 + 60_000; // well inside the two-week cookie age, but past the session's own expiry
      await request(value, async (s) => expect(await s.get("user")).toBe(undefined));
    });

    it("end to end: idleTimeout slides inside the cookie: a used cookie is re-issued, an idle one expires", async () => {
      const { request, clock } = setup(encrypt, { idleTimeout: 60 });
      const first = await request(undefined, (s) => s.set("user", "jane"));
      expect((await backend.decode(first.value as string, T0, [A]))?.expiresAt).toBe(T0 + 60_000);
      clock.now = T0 + 30_000;
      const used = await request(first.value, async (s) => expect(await s.get("user")).toBe("jane"));
      expect((await backend.decode(used.value as string, clock.now, [A]))?.expiresAt).toBe(T0 + 90_000);
      clock.now = T0 + 61_000;
      await request(first.value, async (s) => expect(await s.get("user")).toBe(undefined));
      await request(used.value, async (s) => expect(await s.get("user")).toBe("jane"));
    });

    it("end to end: a session too big for a cookie fails the commit, naming the size and a server-side backend", async () => {
      const { request } = setup(encrypt);
      const error = await request(undefined, (s) => s.set("blob", "x".repeat(4000))).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CookieTooLargeError);
      const size = (error as CookieTooLargeError).size;
      expect(size).toBeGreaterThan(4096);
      expect((error as Error).message).toBe(
        `[tessera] The session cookie would be ${size} bytes, over the 4096 bytes browsers accept. Store less in the session, or use a server-side backend (database, cache, file) that keeps only the key in the cookie.`,
      );
    });
  });
}

describe("switching encrypt on or off", () => {
  it("opens a value of the other format as stale, so it is re-issued in the configured one", async () => {
    const signed = await signedCookieBackend().encode('{"a":1}', T0 + HOUR, T0, [A]);
    const sealed = await signedCookieBackend({ encrypt: true }).encode('{"a":1}', T0 + HOUR, T0, [A]);
    expect(await signedCookieBackend({ encrypt: true }).decode(signed, T0, [A])).toEqual({
      data: '{"a":1}',
      expiresAt: T0 + HOUR,
      stale: true,
      decoded: decodeData('{"a":1}'),
    });
    expect(await signedCookieBackend().decode(sealed, T0, [A])).toEqual({ data: '{"a":1}', expiresAt: T0 + HOUR, stale: true, decoded: decodeData('{"a":1}') });
    const { request } = setup(true);
    const out = await request(signed, async (s) => expect(await s.get("a")).toBe(1));
    expect(out.value?.startsWith("e3.")).toBe(true);
  });
});

describe('format: "django"', () => {
  it("writes and reads Django's own signed_cookies value (reference worked example B)", async () => {
    const backend = signedCookieBackend({ format: "django" });
    const now = 1_700_000_000_250;
    const value = await backend.encode('{"foo":"bar"}', now + HOUR, now, ["django-insecure-test-secret"]);
    expect(value).toBe("eyJmb28iOiJiYXIifQ:1r31eq:otrv9qOVaMLX-0BWajsGQGyb2MlF3hohu0wSNpqQlbM");
    expect((await backend.decode(value, now, ["django-insecure-test-secret"]))?.data).toBe('{"foo":"bar"}');
    expect(backend.encrypted).toBe(false);
  });

  it("rejects options that do not fit the format", async () => {
    expect(() => signedCookieBackend({ format: "django", encrypt: true })).toThrow(ConfigurationError);
    expect(() => signedCookieBackend({ format: "flask" as "django" })).toThrow(
      '[tessera] signedCookieBackend format must be "tessera" or "django" (it is "flask").',
    );
    expect(() => signedCookieBackend({ maxAge: 60 })).toThrow(ConfigurationError);
    expect(() => signedCookieBackend({ format: "django", maxAge: -1 })).toThrow(ConfigurationError);
  });
});
