/**
 * The Django-format backends on their own: the conformance suite (minus what Django's formats
 * cannot hold), and what is stored, byte for byte, in Django's table and cookie.
 */
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { createSessions, UpdateError } from "tessera-sessions";
import { djangoCookieBackend } from "../../src/backends/django-cookies.js";
import { djangoDatabaseBackend, pythonDatetimeText } from "../../src/backends/django-db.js";
import { runBackendSuite } from "tessera-sessions/testing";
import { loads, PythonFloat, dumps, SESSION_STORE_SALT, SIGNED_COOKIES_SALT } from "tessera-sessions/django";
import { recordingLogger } from "../helpers.js";

const SECRET = "django-insecure-0123456789abcdefghijklmnopqrstuvwxyz";
const OLD = "django-insecure-old-old-old-old-old-old-old-old-old";
const T0 = Date.UTC(2026, 0, 1);

async function memoryDjangoDb(secret: string | string[] = SECRET) {
  const backend = djangoDatabaseBackend({ url: "sqlite::memory:", secret });
  await backend.migrate?.();
  return backend;
}

runBackendSuite({
  name: "django db (sqlite)",
  create: () => memoryDjangoDb(),
  skip: [
    {
      reason: "Django's table has no version, user or creation columns",
      tests: ["create then load returns the record at version 1", "update replaces the data and increments the version"],
    },
    {
      reason: "Django's table has no version column: last writer wins, as in Django",
      tests: ["update on a stale version throws VersionConflictError and changes nothing", "sessions: concurrent saves of different keys all survive"],
    },
  ],
  describe,
  it,
});

runBackendSuite({
  name: "django signed cookies",
  kind: "cookie",
  create: () => djangoCookieBackend({ maxAge: 3600 }),
  skip: [
    {
      reason: "Django's cookie carries no expiry of its own: it expires maxAge after signing",
      tests: ["encode then decode returns the data and expiry", "a value does not decode at or after its expiry"],
    },
  ],
  describe,
  it,
});

describe("django db backend: what it stores", () => {
  it("stores the raw key, Django's session_data and Django's expire_date text", async () => {
    const db = new Database(":memory:");
    const backend = djangoDatabaseBackend({ client: db, secret: SECRET });
    await backend.migrate?.();
    await backend.create("k".repeat(32), { data: '{"foo":"bar","name":"Zoë"}', expiresAt: T0 + 1234, userId: null, now: T0 });
    const row = db.prepare("SELECT * FROM django_session").get() as Record<string, string>;
    expect(row["session_key"]).toBe("k".repeat(32));
    expect(row["expire_date"]).toBe("2026-01-01 00:00:01.234000");
    expect(row["session_data"]).toBe(dumps({ foo: "bar", name: "Zoë" }, { secret: SECRET, salt: SESSION_STORE_SALT, compress: true, now: T0 }));
    expect(loads(row["session_data"] as string, { secrets: SECRET, salt: SESSION_STORE_SALT })).toEqual({ foo: "bar", name: "Zoë" });
    expect(pythonDatetimeText(T0)).toBe("2026-01-01 00:00:00");
    // The schema is Django's own.
    expect((db.prepare("SELECT sql FROM sqlite_master WHERE name = 'django_session'").get() as { sql: string }).sql).toBe(
      'CREATE TABLE "django_session" ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, "expire_date" datetime NOT NULL)',
    );
    await backend.migrate?.(); // leaves the existing table alone
    expect(db.prepare("SELECT count(*) AS n FROM django_session").get()).toEqual({ n: 1 });
    db.close();
  });

  it("reads rows Django wrote (no microseconds, old secret in the fallbacks) and keeps 1.0 a float on write-back", async () => {
    const db = new Database(":memory:");
    const backend = djangoDatabaseBackend({ client: db, secret: [SECRET, OLD] });
    await backend.migrate?.();
    const key = "a".repeat(32);
    const data = dumps(
      { price: new PythonFloat(2), n: 3, nested: { w: new PythonFloat(1) } },
      { secret: OLD, salt: SESSION_STORE_SALT, compress: true, now: T0 },
    );
    db.prepare("INSERT INTO django_session VALUES (?, ?, ?)").run(key, data, "2026-01-01 01:00:00");
    const record = await backend.load(key, T0);
    expect(record).toMatchObject({ data: '{"price":2,"n":3,"nested":{"w":1}}', expiresAt: T0 + 3_600_000, updatedAt: T0 });
    expect(await backend.load(key, T0 + 3_600_000)).toBe(null);
    await backend.update(key, { data: '{"price":2,"n":4,"nested":{"w":1}}', expiresAt: T0 + 7_200_000, userId: null, now: T0 + 5000 }, 1);
    const stored = db.prepare("SELECT session_data FROM django_session").get() as { session_data: string };
    // Re-signed with the newest secret; the floats Django wrote stay floats.
    expect(stored.session_data).toBe(
      dumps(
        { price: new PythonFloat(2), n: 4, nested: { w: new PythonFloat(1) } },
        { secret: SECRET, salt: SESSION_STORE_SALT, compress: true, now: T0 + 5000 },
      ),
    );
    db.close();
  });

  it("tampered session_data loads as an empty session that keeps its key and is not rewritten", async () => {
    const db = new Database(":memory:");
    const backend = djangoDatabaseBackend({ client: db, secret: SECRET });
    await backend.migrate?.();
    const key = "b".repeat(32);
    const forged = dumps({ _auth_user_id: "1" }, { secret: "someone-elses-secret", salt: SESSION_STORE_SALT, compress: true, now: Date.now() });
    db.prepare("INSERT INTO django_session VALUES (?, ?, ?)").run(key, forged, "2999-01-01 00:00:00");
    const logger = recordingLogger();
    const sessions = createSessions({ backend, logger });
    const session = sessions.open(key);
    expect(await session.get("_auth_user_id")).toBe(undefined);
    expect(session.sessionKey).toBe(key);
    expect(session.modified).toBe(false);
    expect(logger.warnings).toEqual(["[tessera] Session data corrupted: a stored django-sqlite session did not decode; the request gets an empty session."]);
    db.close();
  });

  it("update never resurrects a deleted row; a missing table names the fix", async () => {
    const backend = await memoryDjangoDb();
    await expect(backend.update("c".repeat(32), { data: "{}", expiresAt: T0, userId: null, now: T0 }, 1)).rejects.toBeInstanceOf(UpdateError);
    expect(await backend.exists("c".repeat(32))).toBe(false);
    const bare = djangoDatabaseBackend({ url: "sqlite::memory:", secret: SECRET });
    await expect(bare.load("d".repeat(32), T0)).rejects.toThrow(
      /the table django_session does not exist\. Create it with Django \(`python manage\.py migrate sessions`\)/,
    );
    expect(() => djangoDatabaseBackend({ url: "sqlite::memory:", secret: "" })).toThrow(/SECRET_KEY/);
  });
});

describe("django cookie backend: what it writes", () => {
  const secrets = [SECRET, OLD];
  const backend = djangoCookieBackend({ maxAge: 100 });
  it("writes exactly signing.dumps(data, salt=signed_cookies, compress=True)", async () => {
    const value = await backend.encode('{"foo":"bar"}', 0, T0, secrets);
    expect(value).toBe(dumps({ foo: "bar" }, { secret: SECRET, salt: SIGNED_COOKIES_SALT, compress: true, now: T0 }));
    expect(await backend.decode(value, T0, secrets)).toEqual({ data: '{"foo":"bar"}', expiresAt: T0 + 100_000, stale: false, savedAt: T0 });
  });
  it("verifies against every secret and reports an older one as stale", async () => {
    const old = dumps({ foo: "bar" }, { secret: OLD, salt: SIGNED_COOKIES_SALT, compress: true, now: T0 });
    expect(await backend.decode(old, T0, secrets)).toEqual({ data: '{"foo":"bar"}', expiresAt: T0 + 100_000, stale: true, savedAt: T0 });
    expect(await backend.decode(old, T0, [SECRET])).toBe(null);
  });
  it("rejects a signature older than maxAge (age == maxAge passes), and an exceeded set_expiry", async () => {
    const value = await backend.encode('{"a":1}', 0, T0, secrets);
    expect(await backend.decode(value, T0 + 100_000, secrets)).not.toBe(null);
    expect(await backend.decode(value, T0 + 100_001, secrets)).toBe(null);
    const short = await backend.encode('{"_session_expiry":10}', 0, T0, secrets);
    expect((await backend.decode(short, T0 + 10_000, secrets))?.expiresAt).toBe(T0 + 10_000);
    expect(await backend.decode(short, T0 + 10_001, secrets)).toBe(null);
    const dated = await backend.encode('{"_session_expiry":"2026-01-01T00:00:05+00:00"}', 0, T0, secrets);
    expect((await backend.decode(dated, T0 + 4_999, secrets))?.expiresAt).toBe(T0 + 5_000);
    expect(await backend.decode(dated, T0 + 5_000, secrets)).toBe(null);
  });
  it("enforces idleTimeout from the signature's time: a replayed idle copy is empty, a cookie in use is re-signed in time", async () => {
    let now = T0;
    const sessions = createSessions({ backend: djangoCookieBackend(), secret: SECRET, idleTimeout: 600, clock: () => now });
    const valueOf = (setCookie: string | undefined) => (setCookie ?? "").split(";")[0]?.slice("sessionid=".length) ?? "";
    const first = sessions.open();
    await first.set("username", "jane");
    const stolen = valueOf((await sessions.commit(first, 200)).setCookie);
    now = T0 + 599_000;
    expect(await sessions.open(stolen).get("username")).toBe("jane");
    now = T0 + 600_000;
    const replayed = sessions.open(stolen);
    expect(await replayed.get("username")).toBeUndefined();
    // As for any cookie that fails: a clean one replaces it.
    expect(valueOf((await sessions.commit(replayed, 200)).setCookie)).toBe(dumps({}, { secret: SECRET, salt: SIGNED_COOKIES_SALT, compress: true, now }));

    // In use: past touchInterval (idleTimeout / 10) the unchanged cookie is re-signed, so it lives on.
    now = T0 + 100_000;
    const used = sessions.open(stolen);
    expect(await used.get("username")).toBe("jane");
    const resigned = valueOf((await sessions.commit(used, 200)).setCookie);
    expect(resigned).toBe(dumps({ username: "jane" }, { secret: SECRET, salt: SIGNED_COOKIES_SALT, compress: true, now }));
    now = T0 + 650_000;
    expect(await sessions.open(resigned).get("username")).toBe("jane");
  });
  it("re-signs a cookie verified by an older secret with the newest, through createSessions", async () => {
    const sessions = createSessions({ backend: djangoCookieBackend(), secret: secrets, clock: () => T0 });
    const old = dumps({ username: "jane" }, { secret: OLD, salt: SIGNED_COOKIES_SALT, compress: true, now: T0 - 1000 });
    const session = sessions.open(old);
    expect(await session.get("username")).toBe("jane");
    const { setCookie } = await sessions.commit(session, 200);
    const value = dumps({ username: "jane" }, { secret: SECRET, salt: SIGNED_COOKIES_SALT, compress: true, now: T0 });
    expect(setCookie?.startsWith(`sessionid=${value};`)).toBe(true);
  });
});
