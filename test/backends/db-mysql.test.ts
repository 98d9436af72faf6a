/** `databaseBackend` on a real MariaDB server (the mysql dialect) started for this file. */
import mysql from "mysql2/promise";
import mysqlCallback from "mysql2";
import { describe, expect, it } from "vitest";
import { createSessions, generateKey, hashKey } from "tessera-sessions";
import { databaseBackend } from "tessera-sessions/backends/db";
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
  schemeAlias: "mariadb",
  connectTimeoutMessage: /^connect ETIMEDOUT$/,
  connectionCountSql: "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID()",
  start: () => startMariadb(),
  query,
  existingPool: {
    name: "mysql2 promise pool",
    open(serverUrl, size) {
      const pool = mysql.createPool({ uri: serverUrl, connectionLimit: size });
      return {
        client: pool,
        dataOf: async (key) => (await pool.query("SELECT data FROM tessera_sessions WHERE key_hash = ?", [hashKey(key)]))[0],
        end: () => pool.end(),
      };
    },
  },
  statementTimeout: {
    verb: "stop",
    ms: 500,
    async lock(serverUrl) {
      const locker = await mysql.createConnection(serverUrl);
      await locker.query("START TRANSACTION");
      await locker.query("SELECT * FROM tessera_sessions FOR UPDATE");
      return {
        async release() {
          await locker.query("ROLLBACK");
          await locker.end();
        },
      };
    },
    // A plain read does not wait on row locks in InnoDB: an update does.
    blocked: (db, key) => db.update(key, write('{"x":1}'), 1),
    expectTimeout(error) {
      // MariaDB's ER_STATEMENT_TIMEOUT (mysql2 knows only MySQL's names, so `code` is unset).
      expect((error as { errno?: number }).errno).toBe(1969);
      expect((error as Error).message).toBe("Query execution was interrupted (max_statement_time exceeded)");
    },
  },
});

describe("databaseBackend on mysql: connections", () => {
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
});
