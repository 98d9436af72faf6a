/**
 * SQLite through Node's own `node:sqlite` (Node 22.13 and later, no flag): what the SQLite backend
 * uses when better-sqlite3 is not installed. Reached through process.getBuiltinModule, so older
 * Nodes and other runtimes never try to load it.
 * @module
 */
import { nodeBuiltin } from "../../runtime.js";
import type { SqlDriver } from "./driver.js";
import { SQLITE_BUSY, SQLITE_DUPLICATE_KEY_CODES, sqlitePrimaryCode, syncSqliteDriver, type SyncSqlite } from "./sqlite.js";

/** The part of `node:sqlite` Tessera uses. */
export interface NodeSqliteModule {
  DatabaseSync: new (file: string) => SyncSqlite & { readonly isOpen?: boolean };
}

/** `node:sqlite`, or undefined on a runtime without it (Node before 22.13 without its flag, Workers). */
export function nodeSqliteModule(): NodeSqliteModule | undefined {
  return nodeBuiltin<NodeSqliteModule>("node:sqlite");
}

/** Wraps a `node:sqlite` DatabaseSync; `owned` says whether `close()` closes it. */
export function nodeSqliteDriver(db: InstanceType<NodeSqliteModule["DatabaseSync"]>, memory: boolean, owned: boolean): SqlDriver {
  return syncSqliteDriver(db, {
    memory,
    owned,
    // `isOpen` is Node 22.15+; before that, only this driver's own close is known.
    isOpen: () => db.isOpen ?? true,
    // node:sqlite reports SQLite's extended result code as `errcode`.
    isUniqueViolation: (error) => SQLITE_DUPLICATE_KEY_CODES.has((error as { errcode?: number }).errcode ?? -1),
    isBusy: (error) => sqlitePrimaryCode(error) === SQLITE_BUSY,
  });
}
