/**
 * SQLite through `better-sqlite3`: WAL (readers never block the writer), a busy timeout
 * (writers from other processes wait instead of failing), prepared statements reused.
 * @module
 */
import type BetterSqlite3 from "better-sqlite3";
import { importPeer, type SqlDriver } from "./driver.js";

type Database = BetterSqlite3.Database;

/** How long a writer waits for another process's write lock before failing. */
const BUSY_TIMEOUT_MS = 5000;

/** Opens `file` (or `:memory:`) with better-sqlite3. */
export async function openSqlite(file: string): Promise<SqlDriver> {
  const module = await importPeer<{ default: typeof BetterSqlite3 }>("better-sqlite3", "The SQLite backend (sqlite: URLs and the default backend)");
  return sqliteDriver(new module.default(file), true);
}

/** Wraps an existing better-sqlite3 Database; `owned` says whether `close()` closes it. */
export function sqliteDriver(db: Database, owned: boolean): SqlDriver {
  if (!db.memory) db.pragma("journal_mode = WAL");
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.pragma("synchronous = NORMAL");
  const statements = new Map<string, BetterSqlite3.Statement>();
  const prepare = (sql: string) => {
    let statement = statements.get(sql);
    if (statement === undefined) statements.set(sql, (statement = db.prepare(sql)));
    return statement;
  };
  const all = async (sql: string, params: readonly unknown[]) => prepare(sql).all(...params) as Record<string, unknown>[];
  const run = async (sql: string, params: readonly unknown[]) => prepare(sql).run(...params).changes;
  return {
    dialect: "sqlite",
    all,
    run,
    async transaction(work) {
      // IMMEDIATE takes the write lock up front, so two migrating processes queue, not deadlock.
      db.exec("BEGIN IMMEDIATE");
      try {
        const result = await work({ all, run });
        db.exec("COMMIT");
        return result;
      } catch (error) {
        db.exec("ROLLBACK");
        throw error;
      }
    },
    isUniqueViolation: (error) => {
      const code = (error as { code?: unknown }).code;
      return code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "SQLITE_CONSTRAINT_UNIQUE";
    },
    async close() {
      if (owned && db.open) db.close();
    },
  };
}
