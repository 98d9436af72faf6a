/**
 * Tessera and a real Django site (Debian's python3-django, run with /usr/bin/python3) share
 * sessions over real HTTP: one SQLite file and one secret (db engine), or one cookie and one
 * secret (signed_cookies engine). The Django project is in test/django/project/, the harness in
 * harness.ts; interop-servers.test.ts does the same on PostgreSQL and MariaDB.
 *
 * Django 3.2 (Debian 12) has no SECRET_KEY_FALLBACKS: with it, rotation is proven with Django on
 * the old key and Tessera already on [new, old] (Django -> Tessera, then Django on the new key
 * reads what Tessera re-signed), and Tessera -> Tessera. The Tessera -> Django-with-fallbacks
 * direction runs only on Django 4.1 or later.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { djangoCookieBackend } from "../../src/backends/django-cookies.js";
import { djangoDatabaseBackend } from "../../src/backends/django-db.js";
import { loads, SESSION_STORE_SALT, SIGNED_COOKIES_SALT, verifyDjangoLogin } from "tessera-sessions/django";
import { Browser, cleanUp, NEW, OLD, q, requireDjango, SECRET, startDjango, startTessera } from "./harness.js";

let djangoVersion = "";
const dir = mkdtempSync(join(tmpdir(), "tessera-django-"));

beforeAll(() => {
  djangoVersion = requireDjango();
});
afterAll(async () => {
  await cleanUp();
  rmSync(dir, { recursive: true, force: true });
});

describe("harness", () => {
  it("a missing Python module is a failure that names the package to install", () => {
    expect(() => requireDjango([{ module: "tessera_no_such_module", apt: "python3-tessera-no-such" }])).toThrow(
      /need the Python module tessera_no_such_module: run `apt-get install -y python3-tessera-no-such`/,
    );
  });
});

describe("db engine: Django and Tessera on one django_session table", () => {
  const file = join(dir, "db.sqlite3");
  let django = "";
  let tessera = "";
  beforeAll(async () => {
    django = await startDjango({ secret: SECRET, engine: "db", db: file }); // migrates: Django creates its table
    tessera = await startTessera(djangoDatabaseBackend({ url: `sqlite:${file}`, secret: SECRET }), [SECRET]);
  });

  const row = (key: string) => {
    const db = new Database(file, { readonly: true });
    try {
      return db.prepare("SELECT * FROM django_session WHERE session_key = ?").get(key) as Record<string, string> | undefined;
    } finally {
      db.close();
    }
  };
  const passwordOf = (username: string) => {
    const db = new Database(file, { readonly: true });
    try {
      return (db.prepare("SELECT password FROM auth_user WHERE username = ?").get(username) as { password: string }).password;
    } finally {
      db.close();
    }
  };

  it("logs in on Django and reads the user on Tessera (raw key, Django's data, the auth hash verifies)", async () => {
    const browser = new Browser();
    const login = await browser.get(django, "/login?username=alice");
    expect(login["key"]).toBe(browser.cookie);
    const me = await browser.get(tessera, "/whoami");
    expect(me).toMatchObject({ user_id: login["user_id"], username: "alice" });
    expect(browser.setCookies).toEqual([]); // a read does not rewrite the session
    const stored = row(browser.cookie as string);
    expect(stored?.["session_key"]).toBe(browser.cookie); // Django looks keys up raw
    expect(loads(stored?.["session_data"] as string, { secrets: SECRET, salt: SESSION_STORE_SALT })).toMatchObject({
      _auth_user_id: login["user_id"],
      username: "alice",
    });
    const auth = me["login"] as { userId: string; backend: string; hash: string };
    expect(auth.backend).toBe("django.contrib.auth.backends.ModelBackend");
    expect(verifyDjangoLogin(auth, passwordOf("alice"), SECRET)).toBe(true);
    expect(verifyDjangoLogin(auth, passwordOf("alice") + "x", SECRET)).toBe(false);
  });

  it("writes a cart on Tessera and reads it on Django, still logged in; floats and non-ASCII survive both ways", async () => {
    const browser = new Browser();
    await browser.get(django, "/login?username=alice");
    const key = browser.cookie;
    await browser.get(django, `/set?key=price&value=${q("1.0")}`);
    await browser.get(django, `/set?key=label&value=${q(JSON.stringify("Zoë 😀"))}`);
    expect(await browser.get(tessera, "/get?key=label")).toEqual({ value: "Zoë 😀" });
    await browser.get(tessera, `/set?key=cart&value=${q("[1,2,3]")}`);
    expect(browser.cookie).toBe(key); // same session, same key
    expect(browser.setCookies[0]).toMatch(/^sessionid=[a-z0-9]{32}; Max-Age=1209600; Path=\/; Expires=.+; HttpOnly; SameSite=Lax$/);
    expect(await browser.get(django, "/get?key=cart")).toEqual({ value: [1, 2, 3], type: "list" });
    expect(await browser.get(django, "/get?key=price")).toEqual({ value: 1, type: "float" }); // 1.0 stayed a float
    expect(await browser.get(django, "/get?key=label")).toEqual({ value: "Zoë 😀", type: "str" });
    expect(await browser.get(django, "/whoami")).toEqual({ authenticated: true, user_id: expect.any(String), username: "alice" });
  });

  it("a session created on Tessera is read on Django", async () => {
    const browser = new Browser();
    await browser.get(tessera, "/login?username=bob");
    expect(browser.cookie).toMatch(/^[a-z0-9]{32}$/);
    expect(row(browser.cookie as string)?.["expire_date"]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?$/);
    expect(await browser.get(django, "/get?key=username")).toEqual({ value: "bob", type: "str" });
    await browser.get(django, `/set?key=cart&value=${q("[7]")}`);
    expect(await browser.get(tessera, "/get?key=cart")).toEqual({ value: [7] });
  });

  it("set_expiry on Django is kept when Tessera writes (cookie Max-Age and expire_date)", async () => {
    const browser = new Browser();
    await browser.get(django, "/login?username=alice");
    await browser.get(django, "/expiry?seconds=600");
    await browser.get(tessera, `/set?key=cart&value=${q("[1]")}`);
    expect(browser.setCookies[0]).toMatch(/; Max-Age=600;/);
    const expires = Date.parse(`${row(browser.cookie as string)?.["expire_date"]}Z`.replace(" ", "T"));
    expect(Math.abs(expires - (Date.now() + 600_000))).toBeLessThan(10_000);
    expect(await browser.get(django, "/get?key=_session_expiry")).toEqual({ value: 600, type: "int" });
  });

  it("flush on Django logs out on Tessera, even with the old cookie replayed", async () => {
    const browser = new Browser();
    await browser.get(django, "/login?username=alice");
    const old = browser.cookie as string;
    await browser.get(django, "/flush");
    expect(browser.cookie).toBe(undefined);
    expect(row(old)).toBe(undefined);
    expect(await browser.get(tessera, "/whoami")).toMatchObject({ user_id: null, username: null });
    browser.cookie = old;
    expect(await browser.get(tessera, "/whoami")).toMatchObject({ user_id: null, username: null });
    expect(browser.setCookies[0]).toMatch(/^sessionid=; Max-Age=0;/); // Tessera deletes the dead cookie
  });

  it("clearExpired deletes what Django stored as expired, and only that", async () => {
    const backend = djangoDatabaseBackend({ url: `sqlite:${file}`, secret: SECRET });
    try {
      const live = new Browser();
      await live.get(django, "/set?key=n&value=1");
      const dead = new Browser();
      await dead.get(django, "/set?key=n&value=1");
      await dead.get(django, "/expiry?seconds=-60"); // saved with an expire_date in the past
      expect(row(dead.cookie as string)).toBeDefined();
      expect(await backend.clearExpired?.(Date.now())).toBe(1);
      expect(row(dead.cookie as string)).toBe(undefined);
      expect(await live.get(tessera, "/get?key=n")).toEqual({ value: 1 });
    } finally {
      await backend.close?.();
    }
  });

  it("flush on Tessera logs out on Django, even with the old cookie replayed", async () => {
    const browser = new Browser();
    await browser.get(django, "/login?username=alice");
    const old = browser.cookie as string;
    await browser.get(tessera, "/flush");
    expect(browser.cookie).toBe(undefined);
    expect(row(old)).toBe(undefined);
    browser.cookie = old;
    expect(await browser.get(django, "/whoami")).toEqual({ authenticated: false, user_id: null, username: null });
  });
});

describe("signed_cookies engine: Django and Tessera on one cookie", () => {
  let django = "";
  let tessera = "";
  beforeAll(async () => {
    django = await startDjango({ secret: SECRET, engine: "signed_cookies", db: join(dir, "cookies.sqlite3") });
    tessera = await startTessera(djangoCookieBackend({ maxAge: 1209600 }), [SECRET]);
  });

  it("logs in on Django and reads the user on Tessera", async () => {
    const browser = new Browser();
    const login = await browser.get(django, "/login?username=alice");
    expect(loads(browser.cookie as string, { secrets: SECRET, salt: SIGNED_COOKIES_SALT })).toMatchObject({
      _auth_user_id: login["user_id"],
      username: "alice",
    });
    expect(await browser.get(tessera, "/whoami")).toMatchObject({ user_id: login["user_id"], username: "alice" });
    expect(browser.setCookies).toEqual([]);
  });

  it("writes a cart on Tessera and reads it on Django, still logged in", async () => {
    const browser = new Browser();
    await browser.get(django, "/login?username=alice");
    const before = browser.cookie;
    await browser.get(tessera, `/set?key=cart&value=${q(JSON.stringify(["Zoë 😀", 2]))}`);
    expect(browser.cookie).not.toBe(before);
    expect(await browser.get(django, "/get?key=cart")).toEqual({ value: ["Zoë 😀", 2], type: "list" });
    expect(await browser.get(django, "/whoami")).toEqual({ authenticated: true, user_id: expect.any(String), username: "alice" });
  });

  it("flush on Tessera logs out on Django, and flush on Django logs out on Tessera", async () => {
    const browser = new Browser();
    await browser.get(django, "/login?username=alice");
    await browser.get(tessera, "/flush");
    expect(browser.cookie).toBe(undefined);
    expect(await browser.get(django, "/whoami")).toEqual({ authenticated: false, user_id: null, username: null });
    await browser.get(django, "/login?username=alice");
    await browser.get(django, "/flush");
    expect(browser.cookie).toBe(undefined);
    expect(await browser.get(tessera, "/whoami")).toMatchObject({ user_id: null, username: null });
  });

  it("a tampered cookie is an empty session on both", async () => {
    const browser = new Browser();
    await browser.get(django, "/login?username=alice");
    const value = browser.cookie as string;
    const tampered = value.slice(0, 5) + (value[5] === "A" ? "B" : "A") + value.slice(6);
    browser.cookie = tampered;
    expect(await browser.get(tessera, "/whoami")).toMatchObject({ user_id: null, username: null });
    browser.cookie = tampered;
    expect(await browser.get(django, "/whoami")).toEqual({ authenticated: false, user_id: null, username: null });
  });
});

describe("a rotated secret (new first, old as fallback)", () => {
  it("db: Django on the old key writes, Tessera on [new, old] reads and re-signs, Django on the new key reads", async () => {
    const file = join(dir, "rotation.sqlite3");
    const oldDjango = await startDjango({ secret: OLD, engine: "db", db: file });
    const tessera = await startTessera(djangoDatabaseBackend({ url: `sqlite:${file}`, secret: [NEW, OLD] }), [NEW, OLD]);
    const browser = new Browser();
    await browser.get(oldDjango, `/set?key=username&value=${q('"carol"')}`);
    expect(await browser.get(tessera, "/get?key=username")).toEqual({ value: "carol" });
    await browser.get(tessera, `/set?key=cart&value=${q("[1]")}`);
    const db = new Database(file, { readonly: true });
    const data = (db.prepare("SELECT session_data FROM django_session WHERE session_key = ?").get(browser.cookie) as { session_data: string }).session_data;
    db.close();
    expect(loads(data, { secrets: NEW, salt: SESSION_STORE_SALT })).toEqual({ username: "carol", cart: [1] }); // re-signed with the newest
    const newDjango = await startDjango({ secret: NEW, engine: "db", db: file });
    expect(await browser.get(newDjango, "/get?key=cart")).toEqual({ value: [1], type: "list" });
    expect(await browser.get(newDjango, "/get?key=username")).toEqual({ value: "carol", type: "str" });
  });

  it("db: Tessera on the old key writes, Tessera on [new, old] reads and re-signs, Tessera on the new key reads", async () => {
    const file = join(dir, "rotation-tessera.sqlite3");
    await startDjango({ secret: NEW, engine: "db", db: file }).then(() => undefined); // Django creates the table
    const [onlyOld, both, onlyNew] = (await Promise.all(
      [[OLD], [NEW, OLD], [NEW]].map((secret) => startTessera(djangoDatabaseBackend({ url: `sqlite:${file}`, secret }), secret)),
    )) as [string, string, string];
    const browser = new Browser();
    await browser.get(onlyOld, "/login?username=dave");
    expect(await browser.get(onlyNew, "/get?key=username")).toEqual({ value: null }); // the new key alone cannot verify it
    expect(await browser.get(both, "/get?key=username")).toEqual({ value: "dave" });
    await browser.get(both, `/set?key=cart&value=${q("[2]")}`);
    expect(await browser.get(onlyNew, "/get?key=username")).toEqual({ value: "dave" });
    expect(await browser.get(onlyNew, "/get?key=cart")).toEqual({ value: [2] });
  });

  it("signed cookies: Django on the old key signs, Tessera on [new, old] re-signs on read, Django on the new key reads", async () => {
    const db = join(dir, "rotation-cookies.sqlite3");
    const oldDjango = await startDjango({ secret: OLD, engine: "signed_cookies", db });
    const tessera = await startTessera(djangoCookieBackend(), [NEW, OLD]);
    const browser = new Browser();
    await browser.get(oldDjango, `/set?key=username&value=${q('"frank"')}`);
    const old = browser.cookie as string;
    expect(await browser.get(tessera, "/get?key=username")).toEqual({ value: "frank" });
    expect(browser.cookie).not.toBe(old); // stale: re-issued with the newest secret on the same response
    expect(loads(browser.cookie as string, { secrets: NEW, salt: SIGNED_COOKIES_SALT })).toEqual({ username: "frank" });
    const newDjango = await startDjango({ secret: NEW, engine: "signed_cookies", db });
    expect(await browser.get(newDjango, "/get?key=username")).toEqual({ value: "frank", type: "str" });
    // Tessera -> Tessera: [old] signs, [new] alone rejects it, [new, old] re-signs, [new] reads.
    const onlyOld = await startTessera(djangoCookieBackend(), [OLD]);
    const onlyNew = await startTessera(djangoCookieBackend(), [NEW]);
    const second = new Browser();
    await second.get(onlyOld, "/login?username=gina");
    const signedOld = second.cookie;
    expect(await second.get(onlyNew, "/get?key=username")).toEqual({ value: null });
    second.cookie = signedOld;
    expect(await second.get(tessera, "/get?key=username")).toEqual({ value: "gina" });
    expect(await second.get(onlyNew, "/get?key=username")).toEqual({ value: "gina" });
  });

  it("Django 4.1+ only: Django with SECRET_KEY_FALLBACKS reads what a Tessera still on the old key wrote", async (context) => {
    if (!/^(4\.[1-9]|[5-9]\.)/.test(djangoVersion)) {
      context.skip(`Django ${djangoVersion} has no SECRET_KEY_FALLBACKS (added in 4.1); rotation is proven above without it`);
    }
    const file = join(dir, "fallbacks.sqlite3");
    const django = await startDjango({ secret: NEW, engine: "db", db: file, fallbacks: [OLD] });
    const onlyOld = await startTessera(djangoDatabaseBackend({ url: `sqlite:${file}`, secret: OLD }), [OLD]);
    const browser = new Browser();
    await browser.get(onlyOld, "/login?username=erin");
    expect(await browser.get(django, "/get?key=username")).toEqual({ value: "erin", type: "str" });
  });
});
