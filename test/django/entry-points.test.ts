/**
 * The pinned entry points select the Django formats: databaseBackend({ format: "django" }) and
 * signedCookieBackend({ format: "django" }), and docs/django.md's example runs as written.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigurationError, createSessions } from "tessera-sessions";
import { cachedDatabaseBackend } from "tessera-sessions/backends/cached-db";
import { databaseBackend } from "tessera-sessions/backends/db";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { signedCookieBackend } from "tessera-sessions/backends/signed-cookies";
import { withSession } from "tessera-sessions/node";
import { dumps, SIGNED_COOKIES_SALT } from "tessera-sessions/django";

const SECRET = "django-insecure-0123456789abcdefghijklmnopqrstuvwxyz";

describe('pinned entry points with format: "django"', () => {
  it("databaseBackend builds the Django-format backend for a sqlite URL, and rejects an unknown format", async () => {
    const backend = databaseBackend({ url: "sqlite::memory:", format: "django", secret: SECRET });
    expect(backend.name).toBe("django-sqlite");
    expect(backend.dialect).toBe("sqlite");
    await backend.migrate?.();
    await backend.create("k".repeat(32), { data: '{"a":1}', expiresAt: Date.UTC(2030, 0, 1), userId: null, now: Date.UTC(2026, 0, 1) });
    expect((await backend.load("k".repeat(32), Date.UTC(2026, 0, 1)))?.data).toBe('{"a":1}');
    await backend.close?.();
    expect(() => databaseBackend({ url: "sqlite::memory:", format: "django" })).toThrow(/SECRET_KEY/);
    expect(() => databaseBackend({ url: "sqlite::memory:", format: "djang" as "django" })).toThrow(ConfigurationError);
    expect(databaseBackend({ url: "postgres://localhost/app", format: "django", secret: SECRET }).name).toBe("django-postgres");
    expect(databaseBackend({ url: "mysql://localhost/app", format: "django", secret: SECRET }).name).toBe("django-mysql");
  });

  it("absoluteTimeout is refused with the Django-format table (it keeps no creation time), directly or behind a cache", async () => {
    const django = () => databaseBackend({ url: "sqlite::memory:", format: "django", secret: SECRET });
    const message = /absoluteTimeout cannot be enforced by the django-sqlite backend: Django's session table keeps no creation time.*leave absoluteTimeout out/;
    expect(() => createSessions({ backend: django(), secret: SECRET, absoluteTimeout: 3600 })).toThrow(ConfigurationError);
    expect(() => createSessions({ backend: django(), secret: SECRET, absoluteTimeout: 3600 })).toThrow(message);
    expect(() =>
      createSessions({ backend: cachedDatabaseBackend({ cache: memoryBackend(), database: django() }), secret: SECRET, absoluteTimeout: 3600 }),
    ).toThrow(/absoluteTimeout cannot be enforced by the cached-db\(memory\+django-sqlite\) backend/);
    // Tessera's own table keeps it, and idleTimeout alone is fine with Django's.
    expect(createSessions({ backend: databaseBackend({ url: "sqlite::memory:" }), absoluteTimeout: 3600 }).options.absoluteTimeout).toBe(3600);
    expect(createSessions({ backend: django(), secret: SECRET, idleTimeout: 600 }).options.idleTimeout).toBe(600);
  });

  it("signedCookieBackend writes Django's signed_cookies value", async () => {
    const backend = signedCookieBackend({ format: "django", maxAge: 60 });
    expect(backend.encrypted).toBe(false);
    const value = await backend.encode('{"foo":"bar"}', 0, 1_700_000_000_250, [SECRET]);
    expect(value).toBe(dumps({ foo: "bar" }, { secret: SECRET, salt: SIGNED_COOKIES_SALT, compress: true, now: 1_700_000_000_250 }));
    expect(await backend.decode(value, 1_700_000_061_000, [SECRET])).toBe(null); // older than maxAge
    expect(() => signedCookieBackend({ format: "django", encrypt: true })).toThrow(/cannot encrypt/);
  });

  it("the guide's db example runs as written (on a temporary file)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-guide-"));
    const file = join(dir, "db.sqlite3");
    const setup = databaseBackend({ url: `sqlite:${file}`, format: "django", secret: SECRET });
    await setup.migrate?.(); // Django's manage.py migrate would have made the table
    await setup.create("u".repeat(32), { data: '{"_auth_user_id":"7"}', expiresAt: Date.now() + 60_000, userId: null, now: Date.now() });
    await setup.close?.();

    // --- as in docs/django.md, section 2a ---
    const secret = [SECRET];
    const sessions = createSessions({
      backend: databaseBackend({ url: `sqlite:${file}`, format: "django", secret }),
      secret,
      cookie: { secure: process.env["NODE_ENV"] === "production" },
    });
    const server = createServer(
      withSession(sessions, async (req, res) => {
        const userId = await req.session.get("_auth_user_id");
        await req.session.set("cart", [1, 2, 3]);
        res.end(userId ? `Django user ${userId}` : "anonymous");
      }),
    ).listen(0, "127.0.0.1");
    // ---
    await new Promise((resolve) => server.once("listening", resolve));
    try {
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { headers: { cookie: `sessionid=${"u".repeat(32)}` } });
      expect(await response.text()).toBe("Django user 7");
      const check = databaseBackend({ url: `sqlite:${file}`, format: "django", secret });
      expect((await check.load("u".repeat(32), Date.now()))?.data).toBe('{"_auth_user_id":"7","cart":[1,2,3]}');
      await check.close?.();
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await sessions.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
