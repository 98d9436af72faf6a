import { describe, expect, expectTypeOf, it } from "vitest";
import { ConfigurationError, createSessions, InvalidValueError, SessionInterruptedError, UpdateError, type SessionsOptions } from "tessera-sessions";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { databaseBackend } from "tessera-sessions/backends/db";
import { fileBackend } from "tessera-sessions/backends/file";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { signedCookieBackend } from "tessera-sessions/backends/signed-cookies";
import { countingBackend, recordingLogger } from "./helpers.js";

const NOW = 1_700_000_000_000;

function setup(options: SessionsOptions = {}) {
  const backend = countingBackend(memoryBackend());
  const logger = recordingLogger();
  const sessions = createSessions({ backend, clock: () => NOW, logger, ...options });
  /** A stored session with `data`, returned by key. */
  const stored = async (data: Record<string, unknown>) => {
    const session = sessions.open();
    await session.update(data);
    await session.save();
    return session.sessionKey as string;
  };
  return { backend, logger, sessions, stored };
}

describe("lazy loading", () => {
  it("does no backend I/O until data is touched, then loads exactly once", async () => {
    const { backend, sessions, stored } = setup();
    const key = await stored({ a: 1, b: 2 });
    const before = backend.total();
    const session = sessions.open(key);
    expect(session.accessed).toBe(false);
    expect(backend.total()).toBe(before);
    const [a, b, has] = await Promise.all([session.get("a"), session.get("b"), session.has("c")]);
    expect([a, b, has]).toEqual([1, 2, false]);
    await session.keys();
    expect(backend.calls["load"]).toBe(1);
    expect(session.accessed).toBe(true);
    expect(session.modified).toBe(false);
  });

  it("a session without a key never calls the backend to read", async () => {
    const { backend, sessions } = setup();
    const session = sessions.open();
    expect(await session.get("x", "fallback")).toBe("fallback");
    expect(backend.total()).toBe(0);
  });
});

describe("dictionary operations and flags (Django's SessionBase)", () => {
  it("get returns undefined or the fallback and never marks modified", async () => {
    const { sessions, stored } = setup();
    const session = sessions.open(await stored({ name: "jane", zero: 0, nil: null }));
    expect(await session.get("missing")).toBeUndefined();
    expect(await session.get("missing", "Guest")).toBe("Guest");
    expect(await session.get("zero", 5)).toBe(0);
    expect(await session.get("nil", 5)).toBeNull();
    expect(session.modified).toBe(false);
  });

  it("set, delete, has, keys, values, items", async () => {
    const { sessions } = setup();
    const session = sessions.open();
    await session.set("a", 1);
    await session.set("b", [1, { c: "d" }]);
    expect(session.modified).toBe(true);
    expect(await session.has("a")).toBe(true);
    expect(await session.keys()).toEqual(["a", "b"]);
    expect(await session.values()).toEqual([1, [1, { c: "d" }]]);
    expect(await session.items()).toEqual([
      ["a", 1],
      ["b", [1, { c: "d" }]],
    ]);
    expect(await session.delete("a")).toBe(true);
    expect(await session.has("a")).toBe(false);
  });

  it("deleting or popping a missing key leaves modified unchanged", async () => {
    const { sessions, stored } = setup();
    const session = sessions.open(await stored({ a: 1 }));
    expect(await session.delete("missing")).toBe(false);
    expect(await session.pop("missing")).toBeUndefined();
    expect(await session.pop("missing", "dflt")).toBe("dflt");
    expect(session.modified).toBe(false);
    expect(await session.pop("a")).toBe(1);
    expect(session.modified).toBe(true);
    expect(await session.has("a")).toBe(false);
  });

  it("setDefault stores only when absent", async () => {
    const { sessions, stored } = setup();
    const session = sessions.open(await stored({ a: 1 }));
    expect(await session.setDefault("a", 2)).toBe(1);
    expect(session.modified).toBe(false);
    expect(await session.setDefault("b", 3)).toBe(3);
    expect(session.modified).toBe(true);
    expect(await session.get("b")).toBe(3);
  });

  it("update marks modified even when empty", async () => {
    const { sessions, stored } = setup();
    const session = sessions.open(await stored({ a: 1 }));
    await session.update({});
    expect(session.modified).toBe(true);
  });

  it("clear empties without loading, keeps the key, sets both flags", async () => {
    const { backend, sessions, stored } = setup();
    const key = await stored({ a: 1 });
    const before = backend.total();
    const session = sessions.open(key);
    await session.clear();
    expect(backend.total()).toBe(before);
    expect(session.accessed && session.modified).toBe(true);
    expect(session.sessionKey).toBe(key);
    expect(await session.keys()).toEqual([]);
  });

  it("isEmpty: no key and no data, without loading", async () => {
    const { backend, sessions, stored } = setup();
    expect(sessions.open().isEmpty()).toBe(true);
    const key = await stored({ a: 1 });
    const before = backend.total();
    expect(sessions.open(key).isEmpty()).toBe(false);
    expect(backend.total()).toBe(before);
    const fresh = sessions.open();
    await fresh.get("x");
    expect(fresh.isEmpty()).toBe(true);
    await fresh.set("x", 1);
    expect(fresh.isEmpty()).toBe(false);
  });

  it("load returns a copy of the data", async () => {
    const { sessions, stored } = setup();
    const session = sessions.open(await stored({ a: 1, b: "two" }));
    expect({ ...(await session.load()) }).toEqual({ a: 1, b: "two" });
  });

  it("the test cookie helpers", async () => {
    const { sessions } = setup();
    const session = sessions.open();
    expect(await session.testCookieWorked()).toBe(false);
    await session.setTestCookie();
    expect(await session.get("testcookie")).toBe("worked");
    expect(await session.testCookieWorked()).toBe(true);
    await session.deleteTestCookie();
    expect(await session.has("testcookie")).toBe(false);
  });
});

describe("session keys", () => {
  it("are 32 characters of [a-z0-9] and unique", async () => {
    const { sessions } = setup();
    const keys = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const session = sessions.open();
      await session.set("x", i);
      await session.save();
      expect(session.sessionKey).toMatch(/^[a-z0-9]{32}$/);
      keys.add(session.sessionKey as string);
    }
    expect(keys.size).toBe(50);
  });

  it("a cookie value under 8 characters is no key; malformed ones are refused with a warning", async () => {
    const { backend, logger, sessions } = setup();
    expect(sessions.open("abc").sessionKey).toBeNull();
    expect(sessions.open("1234567").sessionKey).toBeNull();
    expect(sessions.open("").sessionKey).toBeNull();
    expect(logger.warnings).toEqual([]);
    for (const bad of ["../../etc/passwd", "ABCDEFGHIJKLMNOP", "abcdefgh;x=1", "a".repeat(41), "x".repeat(5000)]) {
      const session = sessions.open(bad);
      expect(session.sessionKey).toBeNull();
      expect(await session.keys()).toEqual([]);
    }
    expect(logger.warnings).toHaveLength(5);
    expect(backend.total()).toBe(0);
  });

  it("an unknown key loads empty, drops the key, and creates no record", async () => {
    const { backend, sessions } = setup();
    const session = sessions.open("abcdefgh12345678");
    expect(await session.get("x")).toBeUndefined();
    expect(session.sessionKey).toBeNull();
    expect(backend.calls["create"]).toBeUndefined();
    expect(await backend.exists("abcdefgh12345678")).toBe(false);
  });
});

describe("expiry", () => {
  it("defaults to the cookie age", async () => {
    const { sessions } = setup();
    const session = sessions.open();
    expect(await session.getExpiryAge()).toBe(1_209_600);
    expect((await session.getExpiryDate()).getTime()).toBe(NOW + 1_209_600_000);
    expect(await session.getExpireAtBrowserClose()).toBe(false);
  });

  it("setExpiry(seconds) stores the number as Django does", async () => {
    const { sessions } = setup();
    const session = sessions.open();
    await session.setExpiry(300);
    expect(await session.get("_session_expiry")).toBe(300);
    expect(await session.getExpiryAge()).toBe(300);
    expect((await session.getExpiryDate()).getTime()).toBe(NOW + 300_000);
    expect(session.modified).toBe(true);
  });

  it("setExpiry(Date) stores Django's ISO string and measures whole seconds (floor)", async () => {
    const { sessions } = setup();
    const session = sessions.open();
    await session.setExpiry(new Date(NOW + 29_500));
    expect(await session.get("_session_expiry")).toBe("2023-11-14T22:13:49.500000+00:00");
    expect(await session.getExpiryAge()).toBe(29);
    await session.setExpiry(new Date(NOW - 1_500));
    expect(await session.getExpiryAge()).toBe(-2);
    await session.setExpiry(new Date(NOW + 60_000));
    expect(await session.get("_session_expiry")).toBe("2023-11-14T22:14:20+00:00");
    expect((await session.getExpiryDate()).getTime()).toBe(NOW + 60_000);
  });

  it("setExpiry(0) means browser close; null returns to the default", async () => {
    const { sessions } = setup();
    const session = sessions.open();
    await session.setExpiry(0);
    expect(await session.getExpireAtBrowserClose()).toBe(true);
    expect(await session.getExpiryAge()).toBe(1_209_600);
    await session.setExpiry(null);
    expect(await session.has("_session_expiry")).toBe(false);
    expect(await session.getExpireAtBrowserClose()).toBe(false);
  });

  it("expireAtBrowserClose applies unless setExpiry says otherwise", async () => {
    const { sessions } = setup({ expireAtBrowserClose: true });
    const session = sessions.open();
    expect(await session.getExpireAtBrowserClose()).toBe(true);
    await session.setExpiry(300);
    expect(await session.getExpireAtBrowserClose()).toBe(false);
  });

  it("explicit expiry and modification avoid a load", async () => {
    const { backend, sessions, stored } = setup();
    const key = await stored({ a: 1 });
    const before = backend.total();
    const session = sessions.open(key);
    expect(await session.getExpiryAge({ expiry: null })).toBe(1_209_600);
    expect(await session.getExpiryAge({ expiry: 60 })).toBe(60);
    expect(await session.getExpiryAge({ expiry: "2023-11-14T22:14:20+00:00", modification: NOW })).toBe(60);
    expect((await session.getExpiryDate({ expiry: 10, modification: new Date(0) })).getTime()).toBe(10_000);
    expect(backend.total()).toBe(before);
    expect(session.accessed).toBe(false);
  });

  it("rejects values setExpiry cannot mean", async () => {
    const { sessions } = setup();
    await expect(sessions.open().setExpiry(Number.NaN)).rejects.toThrow(TypeError);
    await expect(sessions.open().setExpiry(new Date("nope"))).rejects.toThrow(TypeError);
  });
});

describe("flush and cycleKey", () => {
  it("flush deletes the record and leaves an empty, keyless session", async () => {
    const { backend, sessions, stored } = setup();
    const key = await stored({ user: "jane" });
    const session = sessions.open(key);
    await session.flush();
    expect(session.sessionKey).toBeNull();
    expect(session.modified && session.accessed).toBe(true);
    expect(session.isEmpty()).toBe(true);
    expect(await backend.exists(key)).toBe(false);
  });

  it("cycleKey loads first, so data never touched this request is kept", async () => {
    const { backend, sessions, stored } = setup();
    const key = await stored({ user: "jane" });
    const session = sessions.open(key);
    await session.cycleKey();
    expect(session.sessionKey).not.toBe(key);
    expect(session.modified).toBe(true);
    expect(await session.get("user")).toBe("jane");
    expect(await backend.exists(key)).toBe(false);
    // The new record is written by the save, with the data (one write; see "store writes per request").
    await sessions.commit(session, 200);
    expect(await sessions.open(session.sessionKey as string).get("user")).toBe("jane");
  });
});

describe("bad input", () => {
  it.each([
    ["memory", () => memoryBackend()],
    ["signed cookies", () => signedCookieBackend()],
    ["encrypted cookies", () => signedCookieBackend({ encrypt: true })],
    ["Django signed cookies", () => signedCookieBackend({ format: "django" })],
  ])("open(null) and open(undefined) both mean no cookie on the %s backend", async (_label, backend) => {
    const logger = recordingLogger();
    const sessions = createSessions({ backend: backend(), secret: "s".repeat(32), clock: () => NOW, logger });
    for (const session of [sessions.open(null), sessions.open(undefined), sessions.open()]) {
      expect(session.sessionKey).toBeNull();
      expect(session.hadCookie).toBe(false);
      expect(await session.keys()).toEqual([]);
      expect(await sessions.commit(session, 200)).toEqual({ setCookie: undefined, varyCookie: true }); // read, so Vary; empty, so no cookie
    }
    expect(logger.warnings).toEqual([]);
  });

  it.each([
    ["a function", () => 1],
    ["a BigInt", 10n],
    ["a symbol", Symbol("s")],
    ["undefined", undefined],
    ["NaN", Number.NaN],
    ["Infinity", Number.POSITIVE_INFINITY],
    ["a Date", new Date()],
    ["a Map", new Map()],
    ["a nested BigInt", { deep: [1, { n: 1n }] }],
  ])("set() rejects %s at once and stores nothing", async (_label, value) => {
    const { sessions } = setup();
    const session = sessions.open();
    await expect(session.set("bad", value as never)).rejects.toThrow(InvalidValueError);
    expect(await session.has("bad")).toBe(false);
    expect(session.modified).toBe(false);
  });

  it("set() rejects a cycle with a message naming the path", async () => {
    const { sessions } = setup();
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic["self"] = cyclic;
    await expect(sessions.open().set("c", cyclic)).rejects.toThrow(/c\.self contains a cycle/);
    await expect(sessions.open().update({ ok: 1, bad: () => 1 })).rejects.toThrow(/bad is a function/);
  });

  it("__proto__ and constructor are plain keys that round-trip and never touch Object.prototype", async () => {
    const { sessions } = setup();
    const session = sessions.open();
    await session.set("__proto__", { polluted: true });
    await session.set("constructor", "plain");
    await session.save();
    const again = sessions.open(session.sessionKey as string);
    expect(await again.get("__proto__")).toEqual({ polluted: true });
    expect(await again.get("constructor")).toBe("plain");
    expect(await again.keys()).toEqual(["__proto__", "constructor"]);
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
  });

  it("stored data that is not a JSON object loads empty with a security warning, keeping the key", async () => {
    for (const corrupt of ["{not json", "[1,2]", '"text"', "null", ""]) {
      const backend = memoryBackend();
      const logger = recordingLogger();
      const sessions = createSessions({ backend, clock: () => NOW, logger });
      await backend.create("abcdefgh12345678", { data: corrupt, expiresAt: NOW + 1000, userId: null, now: NOW });
      const session = sessions.open("abcdefgh12345678");
      expect(await session.keys()).toEqual([]);
      expect(session.sessionKey).toBe("abcdefgh12345678");
      expect(session.modified).toBe(false);
      expect(logger.warnings).toEqual([expect.stringContaining("Session data corrupted")]);
    }
  });
});

describe("saving", () => {
  it("save() of a record deleted meanwhile fails with UpdateError and does not resurrect it", async () => {
    const { backend, sessions, stored } = setup();
    const key = await stored({ a: 1 });
    const session = sessions.open(key);
    await session.set("b", 2);
    await backend.delete(key);
    await expect(session.save()).rejects.toThrow(UpdateError);
    expect(await backend.exists(key)).toBe(false);
  });

  it("commit turns that into SessionInterruptedError with status 400", async () => {
    const { backend, sessions, stored } = setup();
    const key = await stored({ a: 1 });
    const session = sessions.open(key);
    await session.set("b", 2);
    await backend.delete(key);
    const error = await sessions.commit(session, 200).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionInterruptedError);
    expect((error as SessionInterruptedError).status).toBe(400);
  });

  it("concurrent requests that change different keys both keep their change", async () => {
    const { sessions, stored } = setup();
    const key = await stored({ shared: 0 });
    const a = sessions.open(key);
    const b = sessions.open(key);
    await Promise.all([a.get("shared"), b.get("shared")]);
    await a.set("fromA", 1);
    await a.delete("shared");
    await b.set("fromB", 2);
    await a.save();
    await b.save();
    expect({ ...(await sessions.open(key).load()) }).toEqual({ fromA: 1, fromB: 2 });
  });

  it("for the same key the last writer wins", async () => {
    const { sessions, stored } = setup();
    const key = await stored({ v: 0 });
    const a = sessions.open(key);
    const b = sessions.open(key);
    await Promise.all([a.get("v"), b.get("v")]);
    await a.set("v", "a");
    await b.set("v", "b");
    await a.save();
    await b.save();
    expect(await sessions.open(key).get("v")).toBe("b");
  });
});

describe("typed data", () => {
  it("the generic types get/set", () => {
    const sessions = createSessions<{ username?: string; cart: number[] }>({ backend: memoryBackend() });
    const session = sessions.open();
    expectTypeOf(session.get("cart")).resolves.toEqualTypeOf<number[] | undefined>();
    expectTypeOf(session.get("username", "Guest")).resolves.toEqualTypeOf<string>();
    // @ts-expect-error: not a key of the declared data
    void session.get("nope");
    // @ts-expect-error: wrong value type
    void session.set("cart", "x");
  });
});

describe("options are checked at startup", () => {
  it.each<[string, SessionsOptions, RegExp]>([
    ["a bad sameSite", { cookie: { sameSite: "sometimes" as never } }, /sameSite must be "lax", "strict", "none" or false/],
    ["a negative maxAge", { cookie: { maxAge: -1 } }, /maxAge must be a whole number of seconds, 0 or more/],
    ["a fractional maxAge", { cookie: { maxAge: 1.5 } }, /maxAge must be a whole number/],
    ['sameSite "none" without secure', { cookie: { sameSite: "none", secure: false } }, /requires cookie.secure: true/],
    ["a short secret", { secret: "too-short" }, /at least 32 bytes long \(it is 9\)/],
    ["a short old secret", { secret: ["x".repeat(32), "short"] }, /secret\[1\] must be at least 32 bytes/],
    ["a bad cookie name", { cookie: { name: "my session" } }, /not a valid cookie name/],
    ["a __Host- cookie with a domain", { cookie: { name: "__Host-id", domain: "example.com" } }, /requires cookie.path "\/" and no cookie.domain/],
    ["a path with a semicolon", { cookie: { path: "/a;b" } }, /cookie.path/],
    ["something that is not a backend", { backend: {} as never }, /backend must be a Tessera backend/],
  ])("%s is a ConfigurationError", (_label, options, message) => {
    expect(() => createSessions({ backend: memoryBackend(), ...options })).toThrow(ConfigurationError);
    expect(() => createSessions({ backend: memoryBackend(), ...options })).toThrow(message);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ["cookies for cookie", { cookies: { secure: false } }, "Unknown option cookies: did you mean cookie?"],
    ["secur, a cookie setting misspelt at the top level", { secur: false }, "Unknown option secur: did you mean cookie.secure?"],
    ["idleTimout", { idleTimout: 60 }, "Unknown option idleTimout: did you mean idleTimeout?"],
    ["secrets", { secrets: ["x".repeat(32)] }, "Unknown option secrets: did you mean secret?"],
    ["cookie.secur", { cookie: { secur: false } }, "Unknown option cookie.secur: did you mean cookie.secure?"],
    ["cookie.samesite", { cookie: { samesite: "strict" } }, "Unknown option cookie.samesite: did you mean cookie.sameSite?"],
    ["cookie.max_age", { cookie: { max_age: 60 } }, "Unknown option cookie.max_age: did you mean cookie.maxAge?"],
  ])("a misspelt option (%s) fails at startup, naming it and the nearest valid one", (_label, options, message) => {
    const create = () => createSessions({ backend: memoryBackend(), ...options } as SessionsOptions);
    expect(create).toThrow(ConfigurationError);
    expect(create).toThrow(message);
  });

  it("lists the valid options after the suggestion", () => {
    expect(() => createSessions({ backend: memoryBackend(), cookies: {} } as SessionsOptions)).toThrow(
      new ConfigurationError(
        "Unknown option cookies: did you mean cookie? The options of createSessions are backend, secret, cookie, saveEveryRequest, expireAtBrowserClose, clock, logger, backendTimeoutMs, idleTimeout, absoluteTimeout, touchInterval, migrateFrom.",
      ),
    );
    expect(() => createSessions({ backend: memoryBackend(), cookie: { secur: true } } as SessionsOptions)).toThrow(
      new ConfigurationError(
        "Unknown option cookie.secur: did you mean cookie.secure? The cookie options are name, maxAge, domain, path, secure, httpOnly, sameSite.",
      ),
    );
  });

  it.each<[string, Record<string, unknown>, string]>([
    [
      "cookie.maxAge",
      { cookie: { maxAge: "3600" } },
      'cookie.maxAge must be a whole number of seconds, 0 or more (it is the string "3600"). The default is 1209600 (two weeks).',
    ],
    ["idleTimeout", { idleTimeout: "1800" }, 'idleTimeout must be a whole number of seconds above 0, or left out to turn it off (it is the string "1800").'],
    [
      "backendTimeoutMs",
      { backendTimeoutMs: "2000" },
      'backendTimeoutMs must be a number of milliseconds from 1 to 2147483647, or 0 for no limit (it is the string "2000"). The default is 5000.',
    ],
    ["saveEveryRequest", { saveEveryRequest: "false" }, 'saveEveryRequest must be true or false (it is the string "false").'],
    ["cookie", { cookie: "secure" }, 'cookie must be an object of cookie settings, such as { secure: false } (it is the string "secure").'],
  ])("a string where %s needs another type says it was a string", (_label, options, message) => {
    expect(() => createSessions({ backend: memoryBackend(), ...options } as SessionsOptions)).toThrow(new ConfigurationError(message));
  });

  it("accepts Django's capitalised SameSite values and a 32-byte secret", () => {
    const sessions = createSessions({ backend: memoryBackend(), cookie: { sameSite: "Strict" }, secret: "x".repeat(32) });
    expect(sessions.options.cookie.sameSite).toBe("strict");
    expect(sessions.options.cookie).toEqual({
      name: "sessionid",
      maxAge: 1_209_600,
      domain: undefined,
      path: "/",
      secure: true,
      httpOnly: true,
      sameSite: "strict",
    });
  });
});

describe("user index errors", () => {
  it("a backend without a user index says which backends have one", async () => {
    const plain = memoryBackend();
    const { listByUser: _l, deleteByUser: _d, deleteById: _i, ...withoutIndex } = plain;
    const sessions = createSessions({ backend: { ...withoutIndex, name: "custom" } });
    await expect(sessions.listForUser("1")).rejects.toThrow(/The custom backend keeps no user index\. Use the database/);
    await expect(sessions.endAllForUser("1")).rejects.toThrow(ConfigurationError);
  });

  it("a user bound by this request survives a merge with a concurrent save", async () => {
    const { sessions, stored } = setup();
    const key = await stored({ a: 1 });
    const login = sessions.open(key);
    const other = sessions.open(key);
    await Promise.all([login.get("a"), other.get("a")]);
    await login.setUser("u1");
    await other.set("b", 2);
    await other.save();
    await login.save();
    const after = sessions.open(key);
    expect(await after.getUser()).toBe("u1");
    expect(await after.get("b")).toBe(2);
  });
});

describe("store writes per request", () => {
  it("cycleKey on login writes the new record once, with its data, at the commit: one create(), no update()", async () => {
    const { backend, sessions, stored } = setup();
    const key = await stored({ cart: [1] });
    backend.reset();
    const login = sessions.open(key);
    await login.cycleKey();
    await login.update({ user: "jane" }); // changed after the cycle: written by the same create
    const cycled = login.sessionKey as string;
    expect(backend.methods()).toEqual(["load", "delete"]); // the old record is gone at once, as in Django
    await sessions.commit(login, 200);
    expect(login.sessionKey).toBe(cycled); // the key cycleKey gave is the one stored
    expect(backend.log).toEqual([
      { method: "load", key },
      { method: "delete", key },
      { method: "create", key: cycled },
    ]);
    expect(await backend.inner.exists(key)).toBe(false);
    expect(await sessions.open(cycled).load()).toEqual({ cart: [1], user: "jane" });
    // cycleKey twice, then flush: nothing was stored under the keys in between, so nothing more is written or deleted.
    backend.reset();
    const again = sessions.open(cycled);
    await again.cycleKey();
    await again.cycleKey();
    await sessions.commit(again, 200);
    expect(backend.methods()).toEqual(["load", "delete", "create"]);
    const gone = sessions.open(again.sessionKey as string);
    await gone.cycleKey();
    await gone.flush();
    backend.reset();
    await sessions.commit(gone, 200);
    expect(backend.total()).toBe(0);
  });

  it.each([
    ["memory", () => memoryBackend()],
    ["SQLite", () => databaseBackend({ url: "sqlite::memory:" })],
    ["file", () => fileBackend({ directory: mkdtempSync(join(tmpdir(), "tessera-login-")) })],
  ])("a login on the %s backend stores the new session in one write", async (_name, make) => {
    const inner = make();
    await createSessions({ backend: inner }).migrate(); // the counting wrapper has no migrate
    const backend = countingBackend(inner);
    const sessions = createSessions({ backend, logger: recordingLogger() });
    const visitor = sessions.open();
    await visitor.set("cart", [1]);
    await sessions.commit(visitor, 200);
    backend.reset();
    const login = sessions.open(visitor.sessionKey);
    await login.cycleKey();
    await login.update({ user: "alice", n: 0 });
    await sessions.commit(login, 200);
    expect(backend.methods()).toEqual(["load", "delete", "create"]);
    expect(await sessions.open(login.sessionKey).load()).toEqual({ cart: [1], user: "alice", n: 0 });
    expect(await backend.inner.exists(visitor.sessionKey as string)).toBe(false);
    await sessions.close();
  });

  it("a key collision at the deferred create is retried under a fresh key", async () => {
    const { backend, sessions } = setup();
    const login = sessions.open();
    await login.cycleKey();
    const taken = login.sessionKey as string;
    // Another visitor's record under exactly that key (what a collision would be).
    await backend.inner.create(taken, { data: "{}", expiresAt: NOW + 60_000, userId: null, now: NOW });
    await login.set("user", "jane");
    backend.reset();
    await sessions.commit(login, 200);
    expect(backend.methods()).toEqual(["create", "create"]);
    expect(login.sessionKey).not.toBe(taken);
    expect(await sessions.open(login.sessionKey as string).get("user")).toBe("jane");
    expect(await sessions.open(taken).get("user")).toBeUndefined();
  });

  it("concurrent saves of one session in one process go out merged, in few writes, with no conflict", async () => {
    const { backend, sessions, stored } = setup();
    const key = await stored({ start: true });
    const writers = Array.from({ length: 20 }, () => sessions.open(key));
    await Promise.all(writers.map((s) => s.get("start"))); // all load version 1
    const updatesBefore = backend.calls["update"] ?? 0;
    const loadsBefore = backend.calls["load"] ?? 0;
    await Promise.all(
      writers.map(async (s, i) => {
        await s.set(`k${i}`, i);
        await s.save();
      }),
    );
    // The first writes alone; the 19 that queued behind it go out as one write on top of it.
    expect((backend.calls["update"] ?? 0) - updatesBefore).toBe(2);
    expect((backend.calls["load"] ?? 0) - loadsBefore).toBe(0);
    const final = await sessions.open(key).load();
    expect(final).toEqual({ start: true, ...Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])) });
    expect((await backend.load(key, NOW))?.version).toBe(3);
  });

  it("a write from another process meanwhile: the queued saves reload once and all their changes are kept", async () => {
    const { backend, sessions, stored } = setup();
    const key = await stored({ start: true, shared: "old" });
    const writers = Array.from({ length: 5 }, () => sessions.open(key));
    await Promise.all(writers.map((s) => s.get("start")));
    // Another process changes the record after these requests loaded it.
    const record = await backend.load(key, NOW);
    await backend.update(
      key,
      { data: JSON.stringify({ start: true, shared: "new", other: 1 }), expiresAt: record!.expiresAt, userId: null, now: NOW },
      record!.version,
    );
    const loadsBefore = backend.calls["load"] ?? 0;
    await Promise.all(
      writers.map(async (s, i) => {
        await s.set(`k${i}`, i);
        if (i === 4) await s.delete("start");
        await s.save();
      }),
    );
    // Only the first write met the foreign version: one reload, then every later write builds on it.
    expect((backend.calls["load"] ?? 0) - loadsBefore).toBe(1);
    const final = await sessions.open(key).load();
    expect(final).toEqual({ shared: "new", other: 1, k0: 0, k1: 1, k2: 2, k3: 3, k4: 4 });
  });
});
