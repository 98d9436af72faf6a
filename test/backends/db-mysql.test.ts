/** `databaseBackend` on a real MariaDB server (the mysql dialect) started for this file. */
import mysql from "mysql2/promise";
import mysqlCallback from "mysql2";
import { describe, expect, it } from "vitest";
import { createSessions, generateKey, hashKey } from "tessera";
import { databaseBackend } from "tessera/backends/db";
import { startMariadb } from "../servers/mariadb.js";
import { runSqlServerTests } from "./db-server-shared.js";

const T0 = Date.UTC(2026, 0, 1);
const write = (data: string) => ({ data, expiresAt: T0 + 3_600_000, userId: null, now: T0 });
const quiet = { warn() {}, error() {} };

async function query(url: string, sql: string, params: readonly unknown[] = []): Promise<Record<string, unknown>[]> {
  const connection = await mysql.createConnection(url);
  try {
    return (await connection.query({ sql, values: [...params] }))[0] as Record<string, unknown>[];
  } finally {
    await connection.end();
  }
}

const url = runSqlServerTests({
  dialect: "mysql",
  connectTimeoutMessage: /^connect ETIMEDOUT$/,
  start: () => startMariadb(),
  query,
  async createDatabase(serverUrl, name) {
    await query(serverUrl, `CREATE DATABASE ${name}`);
    const fresh = new URL(serverUrl);
    fresh.pathname = `/${name}`;
    return fresh.toString();
  },
});

describe("databaseBackend on mysql: connections", () => {
  it("accepts mariadb:// as well as mysql://", async () => {
    const db = databaseBackend({ url: url().replace(/^mysql:/, "mariadb:") });
    const key = generateKey();
    await db.create(key, write('{"scheme":"mariadb"}'));
    expect((await db.load(key, T0))?.data).toBe('{"scheme":"mariadb"}');
    await db.close?.();
  });

  it("uses an existing mysql2 promise pool and leaves it open on close()", async () => {
    const pool = mysql.createPool({ uri: url(), connectionLimit: 2 });
    try {
      const db = databaseBackend({ client: pool });
      expect(db.dialect).toBe("mysql");
      const key = generateKey();
      await db.create(key, write('{"via":"pool"}'));
      await db.migrate?.(); // the transaction runs on one of the pool's connections and gives it back
      await db.close?.();
      const [rows] = await pool.query("SELECT data FROM tessera_sessions WHERE key_hash = ?", [hashKey(key)]);
      expect(rows).toEqual([{ data: '{"via":"pool"}' }]);
    } finally {
      await pool.end();
    }
  });

  it("uses an existing mysql2 callback pool (through its promise view) and leaves it open", async () => {
    const pool = mysqlCallback.createPool({ uri: url(), connectionLimit: 2 });
    try {
      const sessions = createSessions({ backend: databaseBackend({ client: pool, dialect: "mysql" }), logger: quiet });
      const session = sessions.open();
      await session.set("via", "callback pool");
      await session.save();
      expect(await sessions.open(session.sessionKey as string).get("via")).toBe("callback pool");
      await sessions.close();
      const [rows] = await pool.promise().query("SELECT 1 AS one");
      expect(rows).toEqual([{ one: 1 }]);
    } finally {
      await pool.promise().end();
    }
  });

  it("versioned updates work whether the server reports matched or changed rows", async () => {
    // Without FOUND_ROWS, MySQL's affectedRows counts only rows whose values changed. Our UPDATE
    // always bumps `version`, so even a save of identical data is seen as applied.
    const pool = mysql.createPool({ uri: url(), connectionLimit: 1, flags: ["-FOUND_ROWS"] });
    try {
      const db = databaseBackend({ client: pool });
      const key = generateKey();
      await db.create(key, write('{"same":1}'));
      await db.update(key, write('{"same":1}'), 1);
      await db.update(key, write('{"same":1}'), 2);
      expect((await db.load(key, T0))?.version).toBe(3);
    } finally {
      await pool.end();
    }
  });

  it("statementTimeoutMs makes the server stop a statement stuck behind a lock", async () => {
    const locker = await mysql.createConnection(url());
    const db = databaseBackend({ url: url(), statementTimeoutMs: 500 });
    try {
      const key = generateKey();
      await db.create(key, write("{}"));
      await locker.query("START TRANSACTION");
      await locker.query("SELECT * FROM tessera_sessions FOR UPDATE");
      const started = Date.now();
      const error = await db.update(key, write('{"x":1}'), 1).catch((e: unknown) => e);
      // MariaDB's ER_STATEMENT_TIMEOUT (mysql2 knows only MySQL's names, so `code` is unset).
      expect((error as { errno?: number }).errno).toBe(1969);
      expect((error as Error).message).toBe("Query execution was interrupted (max_statement_time exceeded)");
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await locker.query("ROLLBACK");
      await locker.end();
      await db.close?.();
    }
  });

  it("poolSize caps the connections a URL-opened pool makes", async () => {
    const db = databaseBackend({ url: url(), poolSize: 2 });
    try {
      await Promise.all(Array.from({ length: 20 }, () => db.load(generateKey(), T0)));
      const rows = await query(url(), "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID()");
      expect(rows).toEqual([{ n: 2 }]);
    } finally {
      await db.close?.();
    }
  });
});
