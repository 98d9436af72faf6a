/**
 * SQLite through Bun's own `bun:sqlite`: what the SQLite backend uses on Bun, where
 * better-sqlite3's native addon does not load. Imported by a name bundlers leave alone, and only
 * on Bun.
 * @module
 */
import type { SqlDriver } from "./driver.js";
import { SQLITE_BUSY, SQLITE_DUPLICATE_KEY_CODES, sqlitePrimaryCode, syncSqliteDriver, type SyncSqlite } from "./sqlite.js";

/** Whether this process is Bun. */
export function runsOnBun(): boolean {
  return typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
}

/** The module name in a variable, so no bundler or type checker goes looking for it off Bun. */
const BUN_SQLITE = "bun:sqlite";

/** Opens `file` (or `:memory:`) with bun:sqlite. */
export async function openBunSqlite(file: string): Promise<SqlDriver> {
  const { Database } = (await import(BUN_SQLITE)) as { Database: new (file: string) => SyncSqlite };
  return syncSqliteDriver(new Database(file), {
    memory: file === ":memory:",
    owned: true,
    // bun:sqlite reports SQLite's extended result code as `errno` (and its name as `code`).
    isUniqueViolation: (error) => SQLITE_DUPLICATE_KEY_CODES.has((error as { errno?: number }).errno ?? -1),
    isBusy: (error) => sqlitePrimaryCode(error) === SQLITE_BUSY,
  });
}
