/**
 * SQLite through `better-sqlite3`: WAL (readers never block the writer), a busy timeout
 * (writers from other processes wait instead of failing), prepared statements reused.
 * @module
 */
import type BetterSqlite3 from "better-sqlite3";
import { createRequire } from "node:module";
import { ConfigurationError } from "../../errors.js";
import { importPeer, type SqlDriver } from "./driver.js";

type Database = BetterSqlite3.Database;

/** How long a writer waits for another process's write lock before failing. */
const BUSY_TIMEOUT_MS = 5000;

/** Opens `file` (or `:memory:`) with better-sqlite3. */
export async function openSqlite(file: string): Promise<SqlDriver> {
  const module = await importPeer<{ default: typeof BetterSqlite3 }>("better-sqlite3", "The SQLite backend (sqlite: URLs and the default backend)");
  let db: Database;
  try {
    db = new module.default(file);
  } catch (error) {
    throw nativeAddonError(error) ?? error;
  }
  return sqliteDriver(db, true);
}

/**
 * better-sqlite3 loads its compiled addon on the first `new Database()`. When that fails (built
 * for another Node, not built at all, or a release that needs a newer Node, such as 13 on Node 20)
 * the raw error names a .node file; say instead which versions fit and how to fix it.
 */
function nativeAddonError(error: unknown): ConfigurationError | undefined {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  if (code !== "ERR_DLOPEN_FAILED" && !/bindings file|NODE_MODULE_VERSION|\.node\b/.test(message)) return undefined;
  let installed = "";
  try {
    const manifest = createRequire(import.meta.url)("better-sqlite3/package.json") as { version?: string; engines?: { node?: string } };
    installed = ` ${manifest.version ?? ""}${manifest.engines?.node === undefined ? "" : ` (which supports Node ${manifest.engines.node})`}`;
  } catch {
    // The manifest is only for a better message; the advice below holds without it.
  }
  return new ConfigurationError(
    `The SQLite backend could not load better-sqlite3${installed} on Node ${process.versions.node}: its native addon is missing or built for another Node. ` +
      "better-sqlite3 13 needs Node 22 or later; on Node 20 install better-sqlite3@12 (npm install better-sqlite3@12). " +
      "After changing Node, rebuild it with: npm rebuild better-sqlite3",
    { cause: error },
  );
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
