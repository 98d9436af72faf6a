/**
 * `tessera-sessions/csrf`: tokens for forms, verified against the CSRF cookie and the session,
 * rotated by cycleKey and flush. Real sessions on real backends; the examples' tests drive it
 * over HTTP.
 */
import { describe, expect, it } from "vitest";
import { BackendError, ConfigurationError, createSessions, type Session } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { signedCookieBackend } from "tessera-sessions/backends/signed-cookies";
import { createCsrf, csrfProtection } from "tessera-sessions/csrf";
import { countingBackend, recordingLogger } from "./helpers.js";

const SECRET = "a-test-secret-that-is-at-least-32-bytes-long";
const COOKIE = /^csrftoken=([A-Za-z0-9_-]{43}); Path=\/; HttpOnly; Secure; SameSite=Lax$/;

function setup() {
  const sessions = createSessions({ backend: memoryBackend(), secret: SECRET });
  return { sessions, csrf: createCsrf(sessions) };
}

/** A browser's first form: the CSRF cookie it got, as its Cookie header, and the token. */
async function firstForm(csrf: ReturnType<typeof createCsrf>, session?: Session) {
  const { token, setCookie } = await csrf.issue(undefined, session);
  const value = COOKIE.exec(setCookie ?? "")?.[1];
  expect(value, `not a CSRF cookie: ${setCookie}`).toBeDefined();
  return { cookie: `csrftoken=${value}`, token };
}

describe("createCsrf", () => {
  it("issues a cookie once and a token that verifies with it, and only with it", async () => {
    const { sessions, csrf } = setup();
    const { cookie, token } = await firstForm(csrf, sessions.open());
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(cookie).not.toContain(token); // the token is a MAC of the cookie, not the cookie

    const again = await csrf.issue(cookie, sessions.open());
    expect(again).toEqual({ token, setCookie: undefined });
    expect(await csrf.verify(cookie, token, sessions.open())).toBe(true);

    const other = await firstForm(csrf, sessions.open());
    for (const [header, submitted] of [
      [cookie, undefined],
      [cookie, null],
      [cookie, ""],
      [cookie, `${token}x`],
      [cookie, token.slice(1)],
      [cookie, other.token], // another browser's token
      [other.cookie, token], // a planted cookie with our token
      [undefined, token], // no cookie
      ["csrftoken=short", token], // a malformed cookie
    ] as const) {
      expect(await csrf.verify(header, submitted, sessions.open()), `${header} / ${submitted}`).toBe(false);
    }
  });

  it("rotates at cycleKey (login) and flush (logout)", async () => {
    const { sessions, csrf } = setup();
    const session = sessions.open();
    await session.set("cart", ["tea"]);
    const { cookie, token } = await firstForm(csrf, session); // saves the new session so the token is bound to its key
    expect(session.sessionKey).not.toBeNull();
    const key = session.sessionKey;
    expect(await csrf.verify(cookie, token, sessions.open(key))).toBe(true);

    const login = sessions.open(key);
    await login.cycleKey();
    await login.setUser("ana");
    await login.save();
    const loggedIn = sessions.open(login.sessionKey);
    expect(await csrf.verify(cookie, token, loggedIn)).toBe(false);
    const fresh = (await csrf.issue(cookie, loggedIn)).token;
    expect(fresh).not.toBe(token);
    expect(await csrf.verify(cookie, fresh, sessions.open(login.sessionKey))).toBe(true);

    const logout = sessions.open(login.sessionKey);
    await logout.flush();
    expect(await csrf.verify(cookie, fresh, logout)).toBe(false);
  });

  it("keeps a form shown before any session good while the new session has no user, not after login", async () => {
    const { sessions, csrf } = setup();
    const { cookie, token } = await firstForm(csrf, sessions.open()); // no session yet: bound to none
    // Another tab starts an anonymous session (a cart), then the first tab's form is posted.
    const anonymous = sessions.open();
    await anonymous.set("cart", ["tea"]);
    await anonymous.save();
    expect(await csrf.verify(cookie, token, sessions.open(anonymous.sessionKey))).toBe(true);

    const login = sessions.open(anonymous.sessionKey);
    await login.cycleKey();
    await login.setUser("ana");
    await login.save();
    expect(await csrf.verify(cookie, token, sessions.open(login.sessionKey))).toBe(false);
  });

  it("an expired or unknown session key verifies as no session", async () => {
    const { sessions, csrf } = setup();
    const { cookie, token } = await firstForm(csrf, sessions.open());
    expect(await csrf.verify(cookie, token, sessions.open("abcdefghijklmnopqrstuvwxyz012345"))).toBe(true);
  });

  it("on signed-cookie sessions, binds to the CSRF cookie only (the session cookie changes on every save)", async () => {
    const sessions = createSessions({ backend: signedCookieBackend(), secret: SECRET, cookie: { secure: false } });
    const csrf = createCsrf(sessions);
    const session = sessions.open();
    await session.set("n", 1);
    const { token, setCookie } = await csrf.issue(undefined, session);
    expect(setCookie).toMatch(/^csrftoken=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/); // secure follows the session cookie
    const cookie = (setCookie ?? "").split(";")[0] as string;
    await session.save();
    const next = sessions.open(session.sessionKey);
    await next.set("n", 2);
    await next.save();
    expect(await csrf.verify(cookie, token, sessions.open(next.sessionKey))).toBe(true);
    expect(await csrf.verify(cookie, `${token}x`, sessions.open(next.sessionKey))).toBe(false);
  });

  it("a store outage while verifying is the BackendError (503), not a refusal or a pass", async () => {
    const backend = countingBackend(memoryBackend());
    const sessions = createSessions({ backend, secret: SECRET, logger: recordingLogger() });
    const csrf = createCsrf(sessions);
    const seeded = sessions.open();
    await seeded.set("n", 1);
    const { cookie, token } = await firstForm(csrf, seeded);
    backend.failing = true;
    const failure = csrf.verify(cookie, token, sessions.open(seeded.sessionKey));
    await expect(failure).rejects.toBeInstanceOf(BackendError);
    await expect(failure).rejects.toMatchObject({ status: 503 });
  });

  it("is a configuration error without a key, or with a short one", () => {
    const keyless = createSessions({ backend: memoryBackend() });
    expect(() => createCsrf(keyless)).toThrow(ConfigurationError);
    expect(() => createCsrf(keyless)).toThrow(
      "[tessera] createCsrf needs a key: give createSessions a secret (32+ bytes, e.g. from SESSION_SECRET), or pass createCsrf(sessions, { key }).",
    );
    expect(() => createCsrf(keyless, { key: "short" })).toThrow("[tessera] The CSRF key must be at least 32 bytes long (it is 5).");
    expect(createCsrf(keyless, { key: SECRET }).cookieName).toBe("csrftoken");
  });

  it("tokens of one key never verify under another (the admin's key is derived apart from the app's)", async () => {
    const a = csrfProtection({ key: SECRET });
    const b = csrfProtection({ key: `${SECRET}-other` });
    const { token, setCookie } = await a.issue(undefined);
    const cookie = (setCookie ?? "").split(";")[0] as string;
    expect(await a.verify(cookie, token)).toBe(true);
    expect(await b.verify(cookie, token)).toBe(false);
  });
});
