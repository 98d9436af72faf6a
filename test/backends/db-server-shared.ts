/**
 * Tests shared by the PostgreSQL and MariaDB runs of `databaseBackend`: the same statements must
 * behave the same on every server, so the same assertions run against each.
 */
import { createHash } from "node:crypto";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  BackendError,
  createSessions,
  CreateError,
  generateKey,
  UpdateError,
  VersionConflictError,
  type ServerBackend,
  type SessionWrite,
} from "tessera-sessions";
import { databaseBackend, MIGRATIONS } from "tessera-sessions/backends/db";
import { runBackendSuite } from "tessera-sessions/testing";
import type { TestServer } from "../servers/postgres.js";

/** What the shared tests need to know about one server. */
export interface SqlServerHarness {
  /** "postgres" or "mysql": the backend's name and dialect. */
  readonly dialect: "postgres" | "mysql";
  /** What the driver says when a server accepts TCP but never answers within connectTimeoutMs. */
  readonly connectTimeoutMessage: RegExp;
  /** The other URL scheme the backend accepts for this server ("mariadb", "postgresql"). */
  readonly schemeAlias: string;
  /** A query that counts the connections Tessera holds open on the database, as a column `n`. */
  readonly connectionCountSql: string;
  start(): Promise<TestServer>;
  /** Runs one statement with `?` placeholders on the database at `url`, outside Tessera. */
  query(url: string, sql: string, params?: readonly unknown[]): Promise<Record<string, unknown>[]>;
  /** The driver's own pool, opened by the app and handed to `databaseBackend({ client })`. */
  readonly existingPool: {
    /** What the test title calls it, e.g. "pg Pool". */
    readonly name: string;
    /** Opens a pool of `size` connections on `url`. */
    open(url: string, size: number): ExistingPool;
  };
  /** How the server ends a statement that waited longer than `statementTimeoutMs`. */
  readonly statementTimeout: {
    /** What the test title says the server does to the statement: "stop" or "cancel". */
    readonly verb: string;
    readonly ms: number;
    /** Opens a connection outside Tessera and takes a lock on tessera_sessions that `blocked` waits on. */
    lock(url: string): Promise<{ release(): Promise<void> }>;
    /** The backend call that waits on the lock. */
    blocked(db: ServerBackend, key: string): Promise<unknown>;
    /** Asserts that `error` is the server's own statement timeout. */
    expectTimeout(error: unknown): void;
  };
}

/** A driver pool the app opened itself (see {@link SqlServerHarness.existingPool}). */
export interface ExistingPool {
  /** What `databaseBackend({ client })` is given. */
  readonly client: unknown;
  /** The rows of `SELECT data FROM tessera_sessions` for `key`, read through the pool itself. */
  dataOf(key: string): Promise<unknown>;
  /** Asserts what more the driver can say about the pool being open and idle (optional). */
  expectOpenAndIdle?(): void;
  end(): Promise<void>;
}

const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;
const quiet = { warn() {}, error() {} };
const MIGRATE_HINT = "the table tessera_sessions does not exist. Run `npx tessera migrate` (or call sessions.migrate()) to create it.";

function write(data: string, overrides: Partial<SessionWrite> = {}): SessionWrite {
  return { data, expiresAt: T0 + HOUR, userId: null, now: T0, ...overrides };
}

/** Registers the shared tests; returns a getter for the server's URL (valid once tests run). */
export function runSqlServerTests(harness: SqlServerHarness): () => string {
  let server: TestServer | undefined;
  let url = "";
  const open: ServerBackend[] = [];
  /** A backend on the main database, closed after the test. */
  const backend = (options: Parameters<typeof databaseBackend>[0] = { url }) => {
    const created = databaseBackend(options);
    open.push(created);
    return created;
  };
  const rows = (sql: string, params?: readonly unknown[]) => harness.query(url, sql, params);
  let databases = 0;
  /** An empty database on the same server; its URL. */
  const freshDatabase = async () => {
    const name = `tessera_fresh_${++databases}`;
    await rows(`CREATE DATABASE ${name}`);
    const fresh = new URL(url);
    fresh.pathname = `/${name}`;
    return fresh.toString();
  };

  // A server that cannot start fails every test with its reason (vitest would list them as skipped
  // if beforeAll threw): CI must never pass without having run against the real server.
  let startError: unknown;
  beforeAll(async () => {
    try {
      server = await harness.start();
      url = server.url;
      const migrator = databaseBackend({ url });
      await migrator.migrate?.();
      await migrator.close?.();
    } catch (error) {
      startError = error;
    }
  });
  afterAll(async () => {
    await server?.stop();
  });
  beforeEach(async () => {
    if (startError !== undefined) throw startError;
    await rows("DELETE FROM tessera_sessions");
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((b) => b.close?.()));
  });

  runBackendSuite({
    name: harness.dialect,
    userIndex: true,
    listing: true,
    create: async () => {
      await rows("DELETE FROM tessera_sessions");
      return databaseBackend({ url });
    },
    describe,
    it,
  });

  describe(`databaseBackend on ${harness.dialect}`, () => {
    it("migrate applies every step once and records it; running it again changes nothing", async () => {
      const fresh = await freshDatabase();
      const db = backend({ url: fresh });
      await db.migrate?.();
      await db.migrate?.();
      const ledger = await harness.query(fresh, "SELECT version, name FROM tessera_migrations ORDER BY version");
      expect(ledger.map((r) => [Number(r["version"]), r["name"]])).toEqual(MIGRATIONS.map((m) => [m.version, m.name]));
      expect(ledger[0]?.["name"]).toBe("create sessions table");
      expect(await harness.query(fresh, "SELECT COUNT(*) AS n FROM tessera_sessions").then((r) => Number(r[0]?.["n"]))).toBe(0);
    });

    it("a step whose DDL ran but whose ledger row is missing (an interrupted migrate) re-runs cleanly", async () => {
      const fresh = await freshDatabase();
      const db = backend({ url: fresh });
      await db.migrate?.();
      const last = MIGRATIONS[MIGRATIONS.length - 1]?.version;
      await harness.query(fresh, "DELETE FROM tessera_migrations WHERE version = ?", [last]);
      await db.migrate?.();
      const ledger = await harness.query(fresh, "SELECT version FROM tessera_migrations ORDER BY version");
      expect(ledger.map((r) => Number(r["version"]))).toEqual(MIGRATIONS.map((m) => m.version));
    });

    it("two instances migrating at the same time both succeed, and each step is recorded once", async () => {
      const fresh = await freshDatabase();
      const [a, b] = [backend({ url: fresh }), backend({ url: fresh })];
      await Promise.all([a.migrate?.(), b.migrate?.()]);
      expect((await harness.query(fresh, "SELECT version FROM tessera_migrations")).length).toBe(MIGRATIONS.length);
    });

    it("an un-migrated table is a BackendError that says to run npx tessera migrate", async () => {
      const fresh = await freshDatabase();
      const sessions = createSessions({ backend: backend({ url: fresh }), logger: quiet });
      const error = await sessions
        .open(generateKey())
        .get("user")
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BackendError);
      expect((error as BackendError).message).toBe(`[tessera] [${harness.dialect}] ${MIGRATE_HINT}`);
      expect((error as BackendError).status).toBe(503);
      const session = sessions.open();
      await session.set("user", "jane");
      await expect(session.save()).rejects.toThrow(MIGRATE_HINT);
    });

    it("stores only the SHA-256 of the key, never the key itself", async () => {
      const sessions = createSessions({ backend: backend(), logger: quiet });
      const session = sessions.open();
      await session.set("user", "jane");
      await session.save();
      const key = session.sessionKey as string;
      const table = await rows("SELECT * FROM tessera_sessions");
      expect(table).toHaveLength(1);
      expect(String(table[0]?.["key_hash"]).trim()).toBe(createHash("sha256").update(key).digest("hex"));
      expect(JSON.stringify(table)).not.toContain(key);
    });

    it("a full round trip through createSessions: open, set, commit, reopen by key, get", async () => {
      const sessions = createSessions<{ user?: string; cart?: number[] }>({ backend: backend(), logger: quiet });
      const session = sessions.open();
      await session.set("user", "jane");
      await session.set("cart", [1, 2, 3]);
      const result = await sessions.commit(session, 200);
      const key = session.sessionKey as string;
      expect(result.setCookie).toMatch(new RegExp(`^sessionid=${key};`));
      const again = sessions.openFromHeader(`sessionid=${key}`);
      expect(await again.get("user")).toBe("jane");
      expect(await again.get("cart")).toEqual([1, 2, 3]);
      await sessions.close();
    });

    it("create on a taken key is a CreateError and keeps the first row", async () => {
      const db = backend();
      const key = generateKey();
      await db.create(key, write('{"first":1}'));
      await expect(db.create(key, write('{"second":2}'))).rejects.toBeInstanceOf(CreateError);
      expect(await rows("SELECT data, version FROM tessera_sessions")).toEqual([{ data: '{"first":1}', version: 1 }]);
    });

    it("update of a deleted row is an UpdateError and does not bring it back", async () => {
      const db = backend();
      const key = generateKey();
      await db.create(key, write("{}"));
      await db.delete(key);
      await expect(db.update(key, write('{"back":1}'), 1)).rejects.toBeInstanceOf(UpdateError);
      expect(await rows("SELECT * FROM tessera_sessions")).toEqual([]);
    });

    it("update on a stale version is a VersionConflictError and leaves the row alone", async () => {
      const db = backend();
      const key = generateKey();
      await db.create(key, write('{"v":1}'));
      await db.update(key, write('{"v":2}'), 1);
      await expect(db.update(key, write('{"v":3}'), 1)).rejects.toBeInstanceOf(VersionConflictError);
      expect(await rows("SELECT data, version FROM tessera_sessions")).toEqual([{ data: '{"v":2}', version: 2 }]);
    });

    it("racing creates of one key: exactly one wins, every other gets CreateError", async () => {
      const db = databaseBackend({ url, poolSize: 5 });
      open.push(db);
      const key = generateKey();
      const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => db.create(key, write(`{"writer":${i}}`))));
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      for (const r of results) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(CreateError);
      expect(await rows("SELECT version FROM tessera_sessions")).toEqual([{ version: 1 }]);
    });

    it("racing updates on one version: exactly one applies, every other gets VersionConflictError", async () => {
      const db = databaseBackend({ url, poolSize: 5 });
      open.push(db);
      const key = generateKey();
      await db.create(key, write("{}"));
      const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => db.update(key, write(`{"writer":${i}}`), 1)));
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      for (const r of results) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(VersionConflictError);
      expect(await rows("SELECT version FROM tessera_sessions")).toEqual([{ version: 2 }]);
    });

    it("an update that writes identical data still counts as applied (version always moves)", async () => {
      const db = backend();
      const key = generateKey();
      await db.create(key, write('{"same":1}'));
      await db.update(key, write('{"same":1}'), 1);
      await db.update(key, write('{"same":1}'), 2);
      expect((await db.load(key, T0))?.version).toBe(3);
    });

    it("clearExpired deletes exactly the rows with expires_at < now, batch after batch", async () => {
      const db = databaseBackend({ url, batchSize: 2 });
      open.push(db);
      const now = T0 + 10_000;
      const expired = Array.from({ length: 5 }, () => generateKey());
      for (const [i, key] of expired.entries()) await db.create(key, write("{}", { expiresAt: now - 1 - i }));
      const boundary = generateKey(); // expires exactly now: Django's clear uses "<", so it stays
      await db.create(boundary, write("{}", { expiresAt: now }));
      const live = generateKey();
      await db.create(live, write("{}", { expiresAt: now + HOUR }));
      expect(await db.clearExpired?.(now)).toBe(5); // 2 + 2 + 1: the loop went on after full batches
      const left = (await rows("SELECT key_hash FROM tessera_sessions")).map((r) => String(r["key_hash"]).trim()).sort();
      const hash = (key: string) => createHash("sha256").update(key).digest("hex");
      expect(left).toEqual([hash(boundary), hash(live)].sort());
      expect(await db.clearExpired?.(now)).toBe(0);
      // An exact multiple of the batch size: 2 + 2 + 0.
      for (const key of expired.slice(0, 4)) await db.create(key, write("{}", { expiresAt: now - 1 }));
      expect(await db.clearExpired?.(now)).toBe(4);
    });

    it("times survive as exact integers, far-future ones included; fractional clocks are floored", async () => {
      const db = backend();
      const key = generateKey();
      const farFuture = 8_640_000_000_000_000; // the largest Date
      await db.create(key, write('{"a":1}', { expiresAt: farFuture, now: T0 + 0.75, userId: "user-1" }));
      const record = await db.load(key, T0 + 0.5);
      expect(record).toEqual({ data: '{"a":1}', expiresAt: farFuture, version: 1, userId: "user-1", createdAt: T0, updatedAt: T0 });
    });

    it("refuses a bad pool setting, client, dialect or URL scheme at startup", () => {
      expect(() => databaseBackend({ url, poolSize: 0 })).toThrow("databaseBackend poolSize must be a positive whole number.");
      expect(() => databaseBackend({ url, statementTimeoutMs: 1.5 })).toThrow("databaseBackend statementTimeoutMs must be a positive whole number.");
      expect(() => databaseBackend({ client: { query() {} } })).toThrow(
        "databaseBackend client must be a better-sqlite3 Database, a pg Pool or Client, or a mysql2 pool; otherwise pass a url.",
      );
      expect(() => databaseBackend({ client: { query() {} }, dialect: "oracle" as "mysql" })).toThrow(
        'databaseBackend dialect must be "sqlite", "postgres" or "mysql".',
      );
      expect(() => databaseBackend({ url: "mssql://localhost/app" })).toThrow(/does not know the URL scheme of "mssql:\/\/localhost\/app"/);
    });

    it(`a server that refuses connections is a BackendError naming ${harness.dialect}`, async () => {
      const dead = new URL(url);
      dead.port = "1"; // nothing listens on port 1
      const sessions = createSessions({ backend: databaseBackend({ url: dead.toString(), connectTimeoutMs: 2000 }), logger: quiet });
      const error = await sessions
        .open(generateKey())
        .get("x")
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BackendError);
      expect((error as BackendError).backend).toBe(harness.dialect);
      expect((error as BackendError).message).toMatch(new RegExp(`^\\[tessera\\] \\[${harness.dialect}\\] could not load the session: .*ECONNREFUSED`));
      await sessions.close();
    });

    it("connectTimeoutMs bounds the wait for a server that accepts TCP but never answers", async () => {
      // A real socket that stays silent, as a hung server or a black-holing firewall would.
      const sockets: Socket[] = [];
      const silent = createServer((socket) => void sockets.push(socket));
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
      const hung = new URL(url);
      hung.port = String((silent.address() as AddressInfo).port);
      const db = databaseBackend({ url: hung.toString(), connectTimeoutMs: 500 });
      try {
        const started = Date.now();
        const error = await db.load(generateKey(), T0).catch((e: unknown) => e);
        const waited = Date.now() - started;
        expect(error).toBeInstanceOf(Error);
        expect((error as Error).message).toMatch(harness.connectTimeoutMessage);
        expect(waited).toBeGreaterThanOrEqual(450);
        expect(waited).toBeLessThan(3_000);
      } finally {
        await db.close?.();
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => silent.close(resolve));
      }
    });
  });

  describe(`databaseBackend on ${harness.dialect}: connections`, () => {
    it(`accepts ${harness.schemeAlias}:// as well as ${harness.dialect}://`, async () => {
      const db = backend({ url: url.replace(new RegExp(`^${harness.dialect}:`), `${harness.schemeAlias}:`) });
      const key = generateKey();
      await db.create(key, write(`{"scheme":"${harness.schemeAlias}"}`));
      expect((await db.load(key, T0))?.data).toBe(`{"scheme":"${harness.schemeAlias}"}`);
    });

    it(`uses an existing ${harness.existingPool.name} and leaves it open on close()`, async () => {
      const pool = harness.existingPool.open(url, 2);
      try {
        const db = databaseBackend({ client: pool.client });
        expect(db.dialect).toBe(harness.dialect);
        const key = generateKey();
        await db.create(key, write('{"via":"pool"}'));
        await db.migrate?.(); // the transaction runs on one of the pool's connections and gives it back
        await db.close?.();
        expect(await pool.dataOf(key)).toEqual([{ data: '{"via":"pool"}' }]);
        pool.expectOpenAndIdle?.();
      } finally {
        await pool.end();
      }
    });

    it(`statementTimeoutMs makes the server ${harness.statementTimeout.verb} a statement stuck behind a lock`, async () => {
      const timeout = harness.statementTimeout;
      const db = backend({ url, statementTimeoutMs: timeout.ms });
      let locker: { release(): Promise<void> } | undefined;
      try {
        const key = generateKey();
        await db.create(key, write("{}"));
        locker = await timeout.lock(url);
        const started = Date.now();
        const error = await timeout.blocked(db, key).catch((e: unknown) => e);
        timeout.expectTimeout(error);
        expect(Date.now() - started).toBeLessThan(5_000);
      } finally {
        await locker?.release();
      }
    });

    it("poolSize caps the connections a URL-opened pool makes", async () => {
      const db = backend({ url, poolSize: 2 });
      await Promise.all(Array.from({ length: 20 }, () => db.load(generateKey(), T0)));
      expect(await rows(harness.connectionCountSql)).toEqual([{ n: 2 }]);
    });
  });

  return () => url;
}
