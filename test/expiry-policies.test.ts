/**
 * Idle (sliding) and absolute timeouts and the throttled touch, with a manual clock. When the
 * options are not set, Django's behaviour is unchanged (checked first).
 */
import { describe, expect, it } from "vitest";
import { ConfigurationError, createSessions, type SessionsOptions } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { signedCookieBackend } from "tessera-sessions/backends/signed-cookies";
import { countingBackend, recordingLogger } from "./helpers.js";

const T0 = 1_700_000_000_000;
const SECOND = 1000;
const SECRET = "policy-test-secret-0123456789abcdef";

function setup(options: SessionsOptions = {}) {
  let now = T0;
  const inner = memoryBackend();
  const backend = countingBackend(inner);
  const logger = recordingLogger();
  const sessions = createSessions({ backend, clock: () => now, logger, ...options });
  /** One request: open the session from `key`, run `work`, commit with 200. */
  const request = async (key: string | undefined, work: (s: ReturnType<typeof sessions.open>) => Promise<unknown>) => {
    const session = sessions.open(key);
    await work(session);
    const result = await sessions.commit(session, 200);
    return { session, ...result };
  };
  /** A stored session holding `data`, created at the current clock. */
  const stored = async (data: Record<string, unknown> = { user: "jane" }) => {
    const { session } = await request(undefined, (s) => s.update(data));
    return session.sessionKey as string;
  };
  /** The record as the store holds it (bypassing the counter). */
  const record = (key: string) => inner.load(key, now);
  return {
    backend,
    logger,
    sessions,
    request,
    stored,
    record,
    advance: (seconds: number) => {
      now += seconds * SECOND;
    },
    now: () => now,
  };
}

describe("with no policy set, Django's behaviour is unchanged", () => {
  it("the options resolve to off, with a 5 s backend timeout", () => {
    const { sessions } = setup();
    expect(sessions.options).toMatchObject({ idleTimeout: undefined, absoluteTimeout: undefined, touchInterval: undefined, backendTimeoutMs: 5000 });
  });

  it("an unchanged session is never re-saved, and its expiry does not move while it is read", async () => {
    const { backend, request, stored, record, advance } = setup();
    const key = await stored();
    const expires = (await record(key))?.expiresAt;
    expect(expires).toBe(T0 + 1_209_600 * SECOND);
    for (let i = 0; i < 5; i++) {
      advance(100_000);
      const { setCookie, varyCookie } = await request(key, (s) => s.get("user"));
      expect(setCookie).toBeUndefined();
      expect(varyCookie).toBe(true);
    }
    expect(backend.calls["update"]).toBeUndefined();
    expect((await record(key))?.expiresAt).toBe(expires);
  });

  it("a session stays alive until its stored expiry however old it is", async () => {
    const { request, stored, advance } = setup();
    const key = await stored();
    advance(1_209_599);
    const { session } = await request(key, (s) => s.get("user"));
    expect(await session.get("user")).toBe("jane");
  });
});

describe("idleTimeout (sliding expiry)", () => {
  const options = { idleTimeout: 1800 } as const; // touchInterval defaults to 180 s

  it("shortens a new session's expiry and cookie to the idle timeout", async () => {
    const { request, record, sessions } = setup(options);
    expect(sessions.options.touchInterval).toBe(180);
    const { session, setCookie } = await request(undefined, (s) => s.set("user", "jane"));
    const key = session.sessionKey as string;
    expect(setCookie).toBe(`sessionid=${key}; Max-Age=1800; Path=/; Expires=Tue, 14 Nov 2023 22:43:20 GMT; HttpOnly; Secure; SameSite=Lax`);
    expect((await record(key))?.expiresAt).toBe(T0 + 1800 * SECOND);
    expect(await session.getExpiryAge()).toBe(1800);
    expect((await session.getExpiryDate()).getTime()).toBe(T0 + 1800 * SECOND);
  });

  it("a read-only request re-saves the session at most once per touchInterval", async () => {
    const { backend, request, stored, record, advance } = setup(options);
    const key = await stored();
    advance(100); // less than 180 s since the last save: no write
    const first = await request(key, (s) => s.get("user"));
    expect(first.setCookie).toBeUndefined();
    expect(backend.calls["update"]).toBeUndefined();

    advance(100); // 200 s since the last save: one touch, cookie refreshed, expiry moved
    const second = await request(key, (s) => s.get("user"));
    expect(second.setCookie).toBe(`sessionid=${key}; Max-Age=1800; Path=/; Expires=Tue, 14 Nov 2023 22:46:40 GMT; HttpOnly; Secure; SameSite=Lax`);
    expect(second.varyCookie).toBe(true);
    expect(backend.calls["update"]).toBe(1);
    expect((await record(key))?.expiresAt).toBe(T0 + (200 + 1800) * SECOND);

    advance(179); // 179 s since that touch: none
    expect((await request(key, (s) => s.get("user"))).setCookie).toBeUndefined();
    expect(backend.calls["update"]).toBe(1);
    expect((await record(key))?.data).toBe('{"user":"jane"}');
  });

  it("a session used regularly outlives the idle timeout many times over", async () => {
    const { request, stored, advance } = setup(options);
    const key = await stored();
    for (let i = 0; i < 20; i++) {
      advance(1000);
      const { session } = await request(key, (s) => s.get("user"));
      expect(session.sessionKey).toBe(key);
      expect(await session.get("user")).toBe("jane");
    }
  });

  it("a session left idle for the timeout loads empty, its record is dead and its cookie deleted", async () => {
    const { request, stored, record, advance } = setup(options);
    const key = await stored();
    advance(1800);
    const { session, setCookie, varyCookie } = await request(key, (s) => s.get("user"));
    expect(await session.get("user")).toBeUndefined();
    expect(session.sessionKey).toBeNull();
    expect(setCookie).toBe("sessionid=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Lax");
    expect(varyCookie).toBe(true);
    expect(await record(key)).toBeNull(); // expired in the store itself, so clearExpired reclaims it
  });

  it("a record written before idleTimeout was set times out from its last save", async () => {
    const backend = memoryBackend();
    let now = T0;
    const before = createSessions({ backend, clock: () => now });
    const session = before.open();
    await session.set("user", "jane");
    await session.save();
    const key = session.sessionKey as string;
    now += 1801 * SECOND; // the record itself (two weeks) has not expired
    const after = createSessions({ backend, clock: () => now, idleTimeout: 1800 });
    expect(await after.open(key).get("user")).toBeUndefined();
    expect(await backend.exists(key)).toBe(false);
  });

  it("a request that never touches its session does no I/O, so it neither slides nor fails", async () => {
    const { backend, request, stored, advance } = setup(options);
    const key = await stored();
    const before = backend.total();
    advance(1000);
    const { setCookie, varyCookie } = await request(key, async () => undefined);
    expect({ setCookie, varyCookie }).toEqual({ setCookie: undefined, varyCookie: false });
    expect(backend.total()).toBe(before);
  });

  it("no touch on a 5xx response", async () => {
    const { backend, sessions, stored, advance } = setup(options);
    const key = await stored();
    advance(1000);
    const session = sessions.open(key);
    await session.get("user");
    expect(await sessions.commit(session, 500)).toEqual({ setCookie: undefined, varyCookie: true });
    expect(backend.calls["update"]).toBeUndefined();
  });

  it("a touch of a session deleted meanwhile neither fails the request nor brings it back", async () => {
    const { backend, sessions, stored, advance } = setup(options);
    const key = await stored();
    advance(1000);
    const session = sessions.open(key);
    await session.get("user");
    await backend.delete(key); // logout in another tab
    expect(await sessions.commit(session, 200)).toEqual({ setCookie: undefined, varyCookie: true });
    expect(await backend.exists(key)).toBe(false);
  });

  it("a modified session deleted meanwhile is still interrupted (400), as in Django", async () => {
    const { backend, sessions, stored, advance } = setup(options);
    const key = await stored();
    advance(1000);
    const session = sessions.open(key);
    await session.set("more", 1);
    await backend.delete(key);
    await expect(sessions.commit(session, 200)).rejects.toMatchObject({ status: 400 });
  });

  it("setExpiry shorter than the idle timeout wins; an explicit expiry keeps Django's arithmetic", async () => {
    const { request, record } = setup(options);
    const { session, setCookie } = await request(undefined, async (s) => {
      await s.set("a", 1);
      await s.setExpiry(300);
    });
    expect(setCookie).toContain("Max-Age=300;");
    expect((await record(session.sessionKey as string))?.expiresAt).toBe(T0 + 300 * SECOND);
    expect(await session.getExpiryAge({ expiry: 7200 })).toBe(7200);
    await session.setExpiry(7200);
    expect(await session.getExpiryAge()).toBe(1800);
  });

  it("touchInterval 0 re-saves on every request that uses the session", async () => {
    const { backend, request, stored, advance } = setup({ idleTimeout: 1800, touchInterval: 0 });
    const key = await stored();
    for (let i = 1; i <= 3; i++) {
      advance(1);
      expect((await request(key, (s) => s.get("user"))).setCookie).toContain(`sessionid=${key};`);
      expect(backend.calls["update"]).toBe(i);
    }
  });

  it("works with signed cookies: the sealed expiry slides, re-issued once per interval", async () => {
    let now = T0;
    const sessions = createSessions({
      backend: signedCookieBackend(),
      secret: SECRET,
      clock: () => now,
      idleTimeout: 600,
      touchInterval: 60,
      logger: recordingLogger(),
    });
    const first = sessions.open();
    await first.set("user", "jane");
    const issued = await sessions.commit(first, 200);
    expect(issued.setCookie).toContain("Max-Age=600;");
    const cookie = first.sessionKey as string;

    now += 30 * SECOND;
    const quiet = sessions.open(cookie);
    expect(await quiet.get("user")).toBe("jane");
    expect((await sessions.commit(quiet, 200)).setCookie).toBeUndefined();

    now += 60 * SECOND;
    const touched = sessions.open(cookie);
    await touched.get("user");
    const refreshed = await sessions.commit(touched, 200);
    expect(refreshed.setCookie).toContain("Max-Age=600;");
    expect(touched.sessionKey).not.toBe(cookie);

    now += 601 * SECOND;
    expect(await sessions.open(touched.sessionKey as string).get("user")).toBeUndefined();
  });
});

describe("absoluteTimeout", () => {
  it("a session older than the timeout loads empty however active it is", async () => {
    const { request, stored, record, advance } = setup({ idleTimeout: 1800, absoluteTimeout: 3600 });
    const key = await stored();
    for (const step of [1000, 1000, 1000]) {
      advance(step);
      const { session } = await request(key, (s) => s.set(`at${step}`, 1));
      expect(session.sessionKey).toBe(key);
    }
    advance(600); // 3600 s since creation, 600 s since the last write
    const { session, setCookie } = await request(key, (s) => s.get("user"));
    expect(await session.get("user")).toBeUndefined();
    expect(session.sessionKey).toBeNull();
    expect(setCookie).toBe("sessionid=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Lax");
    expect(await record(key)).toBeNull();
  });

  it("caps the stored expiry and the cookie's Max-Age at the creation time plus the timeout", async () => {
    const { request, stored, record, advance } = setup({ absoluteTimeout: 3600 });
    const key = await stored();
    expect((await record(key))?.expiresAt).toBe(T0 + 3600 * SECOND);
    advance(3000);
    const { setCookie, session } = await request(key, (s) => s.set("more", 1));
    expect(setCookie).toContain("Max-Age=600;");
    expect(await session.getExpiryAge()).toBe(600);
    expect((await record(key))?.expiresAt).toBe(T0 + 3600 * SECOND);
    expect((await record(key))?.createdAt).toBe(T0);
  });

  it("with a sliding expiry, no touch happens once the absolute limit is what binds", async () => {
    const { backend, request, stored, advance } = setup({ idleTimeout: 1800, absoluteTimeout: 2000 });
    const key = await stored();
    advance(1000); // the touch would move the expiry from 1800 to 2000: more than 180 s
    expect((await request(key, (s) => s.get("user"))).setCookie).toContain("Max-Age=1000;");
    expect(backend.calls["update"]).toBe(1);
    advance(500); // the expiry cannot move past 2000 any more
    expect((await request(key, (s) => s.get("user"))).setCookie).toBeUndefined();
    expect(backend.calls["update"]).toBe(1);
  });

  it("cycleKey (on login) starts a new lifetime", async () => {
    const { request, stored, record, advance } = setup({ absoluteTimeout: 3600 });
    const key = await stored();
    advance(3000);
    const { session } = await request(key, (s) => s.cycleKey());
    const fresh = session.sessionKey as string;
    expect(fresh).not.toBe(key);
    expect((await record(fresh))?.createdAt).toBe(T0 + 3000 * SECOND);
    expect((await record(fresh))?.expiresAt).toBe(T0 + 6600 * SECOND);
    advance(1000);
    expect(await (await request(fresh, async () => undefined)).session.get("user")).toBe("jane");
  });

  it("a record written before absoluteTimeout was set is measured from its creation", async () => {
    const backend = memoryBackend();
    let now = T0;
    const before = createSessions({ backend, clock: () => now });
    const session = before.open();
    await session.set("user", "jane");
    await session.save();
    now += 61 * SECOND;
    const after = createSessions({ backend, clock: () => now, absoluteTimeout: 60 });
    expect(await after.open(session.sessionKey as string).get("user")).toBeUndefined();
  });
});

describe("the options are checked at startup", () => {
  it.each<[string, SessionsOptions, RegExp]>([
    ["a fractional idleTimeout", { idleTimeout: 1.5 }, /idleTimeout must be a whole number of seconds above 0/],
    ["a zero idleTimeout", { idleTimeout: 0 }, /idleTimeout must be a whole number of seconds above 0/],
    ["a negative absoluteTimeout", { absoluteTimeout: -5 }, /absoluteTimeout must be a whole number of seconds above 0/],
    ["touchInterval without idleTimeout", { touchInterval: 60 }, /touchInterval only applies with idleTimeout/],
    [
      "touchInterval as long as idleTimeout",
      { idleTimeout: 600, touchInterval: 600 },
      /touchInterval must be a number of seconds from 0 up to \(not including\) idleTimeout 600/,
    ],
    ["a negative touchInterval", { idleTimeout: 600, touchInterval: -1 }, /touchInterval must be/],
    ["a negative backendTimeoutMs", { backendTimeoutMs: -1 }, /backendTimeoutMs must be a number of milliseconds/],
    ["an infinite backendTimeoutMs", { backendTimeoutMs: Number.POSITIVE_INFINITY }, /or 0 for no limit/],
    ["a backendTimeoutMs beyond what timers allow", { backendTimeoutMs: 2 ** 31 }, /backendTimeoutMs/],
  ])("%s is a ConfigurationError", (_label, options, message) => {
    expect(() => createSessions({ backend: memoryBackend(), ...options })).toThrow(ConfigurationError);
    expect(() => createSessions({ backend: memoryBackend(), ...options })).toThrow(message);
  });

  it("absoluteTimeout with a cookie backend is refused, saying why", () => {
    expect(() => createSessions({ backend: signedCookieBackend(), secret: SECRET, absoluteTimeout: 3600 })).toThrow(
      /absoluteTimeout needs a server-side backend: the signed-cookies backend keeps no record of when a session was created/,
    );
  });

  it("backendTimeoutMs 0 turns the limit off", () => {
    expect(createSessions({ backend: memoryBackend(), backendTimeoutMs: 0 }).options.backendTimeoutMs).toBe(Number.POSITIVE_INFINITY);
  });
});
