/**
 * The middleware rules (sessions.commit), scenario by scenario against Django's observed
 * Set-Cookie table (reference/django-semantics.md §3.1), with the clock at 1700000000.
 */
import { describe, expect, it } from "vitest";
import { createSessions, readCookie, SessionInterruptedError, varyWithCookie, type SessionsOptions } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { countingBackend } from "./helpers.js";

const NOW = 1_700_000_000_000;
const TWO_WEEKS = "Max-Age=1209600; Path=/; Expires=Tue, 28 Nov 2023 22:13:20 GMT";
const DELETION = "sessionid=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Lax";

function setup(options: SessionsOptions = {}) {
  const backend = countingBackend(memoryBackend());
  const sessions = createSessions({ backend, clock: () => NOW, logger: { warn() {}, error() {} }, ...options });
  const stored = async () => {
    const session = sessions.open();
    await session.set("user", "jane");
    await session.save();
    return session.sessionKey as string;
  };
  return { backend, sessions, stored };
}

describe("Django's middleware rules", () => {
  it("new session written by the view: cookie with every default attribute, Vary", async () => {
    const { sessions } = setup();
    const session = sessions.open();
    await session.set("a", 1);
    const result = await sessions.commit(session, 200);
    expect(result).toEqual({ setCookie: `sessionid=${session.sessionKey}; ${TWO_WEEKS}; HttpOnly; Secure; SameSite=Lax`, varyCookie: true });
    expect(session.sessionKey).toMatch(/^[a-z0-9]{32}$/);
  });

  it("no cookie, view does nothing: nothing, and no backend call", async () => {
    const { backend, sessions } = setup();
    expect(await sessions.commit(sessions.open(), 200)).toEqual({ setCookie: undefined, varyCookie: false });
    expect(backend.total()).toBe(0);
  });

  it("no cookie, view only reads: Vary only", async () => {
    const { sessions } = setup();
    const session = sessions.open();
    await session.get("a");
    expect(await sessions.commit(session, 200)).toEqual({ setCookie: undefined, varyCookie: true });
  });

  it("expireAtBrowserClose, or setExpiry(0): a cookie without Max-Age and Expires", async () => {
    for (const [options, expiry] of [
      [{ expireAtBrowserClose: true }, undefined],
      [{}, 0],
    ] as const) {
      const { sessions } = setup(options);
      const session = sessions.open();
      await session.set("a", 1);
      if (expiry !== undefined) await session.setExpiry(expiry);
      const { setCookie } = await sessions.commit(session, 200);
      expect(setCookie).toBe(`sessionid=${session.sessionKey}; Path=/; HttpOnly; Secure; SameSite=Lax`);
    }
  });

  it("setExpiry(300): Max-Age=300 and Expires five minutes on", async () => {
    const { sessions } = setup();
    const session = sessions.open();
    await session.setExpiry(300);
    const { setCookie } = await sessions.commit(session, 200);
    expect(setCookie).toBe(`sessionid=${session.sessionKey}; Max-Age=300; Path=/; Expires=Tue, 14 Nov 2023 22:18:20 GMT; HttpOnly; Secure; SameSite=Lax`);
  });

  it("SameSite=None, Secure, Domain and Path settings, and their deletion cookie", async () => {
    const { sessions, stored } = setup({ cookie: { sameSite: "none", secure: true, domain: ".ex.com", path: "/p/" } });
    const session = sessions.open();
    await session.set("a", 1);
    expect((await sessions.commit(session, 200)).setCookie).toBe(
      `sessionid=${session.sessionKey}; Max-Age=1209600; Domain=.ex.com; Path=/p/; Expires=Tue, 28 Nov 2023 22:13:20 GMT; HttpOnly; Secure; SameSite=None`,
    );
    const flushed = sessions.open(await stored());
    await flushed.flush();
    expect(await sessions.commit(flushed, 200)).toEqual({
      setCookie: "sessionid=; Max-Age=0; Domain=.ex.com; Path=/p/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; SameSite=None",
      varyCookie: true,
    });
  });

  it("sameSite false and httpOnly false leave those attributes out", async () => {
    const { sessions } = setup({ cookie: { sameSite: false, httpOnly: false, secure: false } });
    const session = sessions.open();
    await session.set("a", 1);
    expect((await sessions.commit(session, 200)).setCookie).toBe(`sessionid=${session.sessionKey}; ${TWO_WEEKS}`);
  });

  it("a stale 16-character cookie: deleted when the view reads, left alone when untouched", async () => {
    const { sessions } = setup();
    const read = sessions.open("abcdefgh12345678");
    await read.get("a");
    expect(await sessions.commit(read, 200)).toEqual({ setCookie: DELETION, varyCookie: true });
    expect(await sessions.commit(sessions.open("abcdefgh12345678"), 200)).toEqual({ setCookie: undefined, varyCookie: false });
  });

  it('the cookie "abc" is deleted even when the view never touches the session', async () => {
    const { backend, sessions } = setup();
    expect(await sessions.commit(sessions.open("abc"), 200)).toEqual({ setCookie: DELETION, varyCookie: true });
    expect(backend.total()).toBe(0);
  });

  it("a stale cookie and a view that writes: a new session and cookie", async () => {
    const { sessions } = setup();
    const session = sessions.open("abcdefgh12345678");
    await session.set("a", 1);
    const { setCookie } = await sessions.commit(session, 200);
    expect(session.sessionKey).not.toBe("abcdefgh12345678");
    expect(setCookie).toBe(`sessionid=${session.sessionKey}; ${TWO_WEEKS}; HttpOnly; Secure; SameSite=Lax`);
  });

  it("a valid session untouched: nothing, and no backend call; read only: Vary", async () => {
    const { backend, sessions, stored } = setup();
    const key = await stored();
    const before = backend.total();
    expect(await sessions.commit(sessions.open(key), 200)).toEqual({ setCookie: undefined, varyCookie: false });
    expect(backend.total()).toBe(before);
    const read = sessions.open(key);
    await read.get("user");
    expect(await sessions.commit(read, 200)).toEqual({ setCookie: undefined, varyCookie: true });
  });

  it("saveEveryRequest refreshes an untouched session's cookie without Vary; no cookie, nothing", async () => {
    const { backend, sessions, stored } = setup({ saveEveryRequest: true });
    const key = await stored();
    const updates = backend.calls["update"] ?? 0;
    expect(await sessions.commit(sessions.open(key), 200)).toEqual({
      setCookie: `sessionid=${key}; ${TWO_WEEKS}; HttpOnly; Secure; SameSite=Lax`,
      varyCookie: false,
    });
    expect(backend.calls["update"]).toBe(updates + 1);
    expect(await sessions.commit(sessions.open(), 200)).toEqual({ setCookie: undefined, varyCookie: false });
  });

  it("a 5xx response neither saves nor sets a cookie, but still varies; 499 does both", async () => {
    const { backend, sessions } = setup();
    const failed = sessions.open();
    await failed.set("a", 1);
    expect(await sessions.commit(failed, 500)).toEqual({ setCookie: undefined, varyCookie: true });
    expect(backend.calls["create"]).toBeUndefined();
    const ok = sessions.open();
    await ok.set("a", 1);
    expect((await sessions.commit(ok, 499)).setCookie).toContain(`sessionid=${ok.sessionKey};`);
  });

  it("a session deleted by someone else, then modified: SessionInterruptedError (400), not resurrected", async () => {
    const { backend, sessions, stored } = setup();
    const key = await stored();
    const session = sessions.open(key);
    await session.set("more", 1);
    await sessions.open(key).flush();
    await expect(sessions.commit(session, 200)).rejects.toBeInstanceOf(SessionInterruptedError);
    expect(await backend.exists(key)).toBe(false);
  });

  it("flush() on an existing session deletes the cookie", async () => {
    const { sessions, stored } = setup();
    const session = sessions.open(await stored());
    await session.flush();
    expect(await sessions.commit(session, 200)).toEqual({ setCookie: DELETION, varyCookie: true });
  });

  it("clear() keeps the key: the cookie is refreshed and an empty dict saved", async () => {
    const { sessions, stored } = setup();
    const key = await stored();
    const session = sessions.open(key);
    await session.clear();
    expect((await sessions.commit(session, 200)).setCookie).toBe(`sessionid=${key}; ${TWO_WEEKS}; HttpOnly; Secure; SameSite=Lax`);
    expect(await sessions.open(key).keys()).toEqual([]);
  });

  it("cycleKey() sends the new key", async () => {
    const { sessions, stored } = setup();
    const key = await stored();
    const session = sessions.open(key);
    await session.cycleKey();
    const { setCookie } = await sessions.commit(session, 200);
    expect(session.sessionKey).not.toBe(key);
    expect(setCookie).toBe(`sessionid=${session.sessionKey}; ${TWO_WEEKS}; HttpOnly; Secure; SameSite=Lax`);
  });

  it("the session is saved with the expiry the cookie announces", async () => {
    const { sessions } = setup();
    const session = sessions.open();
    await session.setExpiry(300);
    await sessions.commit(session, 200);
    const clockLater = createSessions({ backend: sessions.options.backend, clock: () => NOW + 301_000 });
    expect(await clockLater.open(session.sessionKey as string).get("_session_expiry")).toBeUndefined();
  });
});

describe("reading the Cookie header", () => {
  it.each<[string | undefined, string | undefined]>([
    [undefined, undefined],
    ["", undefined],
    ["other=1", undefined],
    ["sessionid=abcdefgh12345678", "abcdefgh12345678"],
    ["a=1; sessionid=abc%20def; b=2", "abc def"],
    ['sessionid="quoted1234"', "quoted1234"],
    ["sessionid=%E0%A4%A", "%E0%A4%A"],
    ["sessionid=first1234; sessionid=second12", "first1234"],
    ["sessionid", undefined],
    [";;;=;sessionid=x=y", "x=y"],
    ["__proto__=1; constructor=2", undefined],
  ])("%j gives %j", (header, value) => {
    expect(readCookie(header, "sessionid")).toBe(value);
  });

  it("never throws on a huge or binary header", () => {
    expect(readCookie(`sessionid=${"a".repeat(100_000)}`, "sessionid")).toHaveLength(100_000);
    expect(() => readCookie("\u0000\uffff;sessionid=\ud800", "sessionid")).not.toThrow();
  });
});

describe("Vary", () => {
  it.each<[string | string[] | undefined, string]>([
    [undefined, "Cookie"],
    ["Accept-Encoding", "Accept-Encoding, Cookie"],
    ["accept-encoding, cookie", "accept-encoding, cookie"],
    [["Origin", "Accept"], "Origin, Accept, Cookie"],
    ["*", "*"],
  ])("%j becomes %j", (existing, expected) => {
    expect(varyWithCookie(existing)).toBe(expected);
  });
});
