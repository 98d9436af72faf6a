/**
 * Django (3.2, Debian's python3-django with python3-psycopg2 / python3-mysqldb) and Tessera on
 * one `django_session` table in PostgreSQL and in MariaDB, each server started for this file:
 * login, write, expiry, flush, clearExpired and a rotated secret, over real HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { djangoDatabaseBackend } from "../../src/backends/django-db.js";
import type { Dialect } from "tessera-sessions/backends/db";
import { openMysql } from "../../src/backends/db/mysql.js";
import { openPostgres } from "../../src/backends/db/postgres.js";
import { startMariadb } from "../servers/mariadb.js";
import { startPostgres, type TestServer } from "../servers/postgres.js";
import { Browser, cleanUp, cleanups, NEW, OLD, q, requireDjango, SECRET, startDjango, startTessera } from "./harness.js";

const POOL = { poolSize: 4, connectTimeoutMs: 10_000, statementTimeoutMs: 15_000 };

/** The Django-format backend on a server database (what databaseBackend({ url, format: "django" }) builds). */
function djangoBackend(dialect: Dialect, url: string, secret: string | string[]) {
  const connect = dialect === "postgres" ? () => openPostgres(url, POOL) : () => openMysql(url, POOL);
  return djangoDatabaseBackend({ secret, connection: { dialect, connect } });
}

afterAll(() => cleanUp());

const servers: { dialect: Dialect; python: { module: string; apt: string }; start: () => Promise<TestServer> }[] = [
  { dialect: "postgres", python: { module: "psycopg2", apt: "python3-psycopg2" }, start: () => startPostgres("django_interop") },
  { dialect: "mysql", python: { module: "MySQLdb", apt: "python3-mysqldb" }, start: () => startMariadb("django_interop") },
];

for (const server of servers) {
  describe(`db engine on ${server.dialect === "mysql" ? "MariaDB" : "PostgreSQL"}: Django and Tessera on one django_session table`, () => {
    let url = "";
    let django = "";
    let tessera = "";
    beforeAll(async () => {
      requireDjango([server.python]);
      const db = await server.start();
      cleanups.push(() => db.stop());
      url = db.url;
      django = await startDjango({ secret: SECRET, engine: "db", db: url }); // Django creates its tables
      tessera = await startTessera(djangoBackend(server.dialect, url, SECRET), [SECRET]);
    }, 180_000);

    it("logs in on Django, reads on Tessera; writes on Tessera, reads on Django, still logged in", async () => {
      const browser = new Browser();
      const login = await browser.get(django, "/login?username=alice");
      expect(await browser.get(tessera, "/whoami")).toMatchObject({ user_id: login["user_id"], username: "alice" });
      await browser.get(django, `/set?key=price&value=${q("2.0")}`);
      await browser.get(tessera, `/set?key=cart&value=${q(JSON.stringify(["Zoë 😀", 1]))}`);
      expect(await browser.get(django, "/get?key=cart")).toEqual({ value: ["Zoë 😀", 1], type: "list" });
      expect(await browser.get(django, "/get?key=price")).toEqual({ value: 2, type: "float" });
      expect(await browser.get(django, "/whoami")).toEqual({ authenticated: true, user_id: login["user_id"], username: "alice" });
    });

    it("expire_date written by Tessera is the instant Django reads, and set_expiry survives", async () => {
      const browser = new Browser();
      await browser.get(tessera, "/login?username=bob");
      const before = Date.now();
      await browser.get(tessera, `/set?key=cart&value=${q("[1]")}`);
      const { ms } = (await browser.get(django, "/expire_date")) as { ms: number };
      expect(ms).toBeGreaterThanOrEqual(before + 1_209_600_000);
      expect(ms).toBeLessThanOrEqual(Date.now() + 1_209_600_000);
      expect(await browser.get(django, "/get?key=username")).toEqual({ value: "bob", type: "str" });
      await browser.get(django, "/expiry?seconds=600");
      const set = Date.now();
      await browser.get(tessera, `/set?key=cart&value=${q("[2]")}`);
      expect(browser.setCookies[0]).toMatch(/; Max-Age=600;/);
      const after = ((await browser.get(django, "/expire_date")) as { ms: number }).ms;
      expect(after - set).toBeGreaterThanOrEqual(599_000);
      expect(after - set).toBeLessThanOrEqual(601_000);
    });

    it("flush on either side logs out on the other, even with the old cookie replayed", async () => {
      const browser = new Browser();
      await browser.get(django, "/login?username=alice");
      let old = browser.cookie as string;
      await browser.get(django, "/flush");
      browser.cookie = old;
      expect(await browser.get(tessera, "/whoami")).toMatchObject({ user_id: null, username: null });
      await browser.get(django, "/login?username=alice");
      old = browser.cookie as string;
      await browser.get(tessera, "/flush");
      browser.cookie = old;
      expect(await browser.get(django, "/whoami")).toEqual({ authenticated: false, user_id: null, username: null });
    });

    it("clearExpired deletes what Django stored as expired, and only that", async () => {
      const backend = djangoBackend(server.dialect, url, SECRET);
      try {
        const live = new Browser();
        await live.get(django, `/set?key=n&value=1`);
        const dead = new Browser();
        await dead.get(django, `/set?key=n&value=1`);
        await dead.get(django, "/expiry?seconds=-60"); // saved with an expire_date in the past
        expect(await backend.exists(dead.cookie as string)).toBe(true);
        expect(await backend.clearExpired?.(Date.now())).toBe(1);
        expect(await backend.exists(dead.cookie as string)).toBe(false);
        expect(await live.get(tessera, "/get?key=n")).toEqual({ value: 1 });
      } finally {
        await backend.close?.();
      }
    });

    it("a rotated secret: Django on the old key writes, Tessera on [new, old] re-signs, Django on the new key reads", async () => {
      const oldDjango = await startDjango({ secret: OLD, engine: "db", db: url });
      const rotated = await startTessera(djangoBackend(server.dialect, url, [NEW, OLD]), [NEW, OLD]);
      const browser = new Browser();
      await browser.get(oldDjango, `/set?key=username&value=${q('"carol"')}`);
      expect(await browser.get(rotated, "/get?key=username")).toEqual({ value: "carol" });
      await browser.get(rotated, `/set?key=cart&value=${q("[3]")}`);
      const backend = djangoBackend(server.dialect, url, NEW);
      try {
        const record = await backend.load(browser.cookie as string, Date.now());
        expect(record?.data).toBe('{"username":"carol","cart":[3]}'); // verifies with the new key alone
      } finally {
        await backend.close?.();
      }
      const newDjango = await startDjango({ secret: NEW, engine: "db", db: url });
      expect(await browser.get(newDjango, "/get?key=cart")).toEqual({ value: [3], type: "list" });
    });
  });
}
