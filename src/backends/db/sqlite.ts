/**
 * SQLite through `better-sqlite3`: WAL (readers never block the writer), a busy timeout
 * (writers from other processes wait instead of failing), prepared statements reused.
 * @module
 */
import type BetterSqlite3 from "better-sqlite3";
import { nodeBuiltin } from "../../runtime.js";
import { ConfigurationError } from "../../errors.js";
import { importPeer } from "../peer.js";
import type { SqlDriver } from "./driver.js";

type Database = BetterSqlite3.Database;

/** How long a writer waits for another process's write lock before failing. */
const BUSY_TIMEOUT_MS = 5000;

/** Opens `file` (or `:memory:`) with better-sqlite3. */
export async function openSqlite(file: string): Promise<SqlDriver> {
  const module = await importPeer<{ default: typeof BetterSqlite3 }>("better-sqlite3", "The SQLite backend (sqlite: URLs and the default backend)");
  refuseUnsupportedNode();
  let db: Database;
  try {
    db = new module.default(file);
  } catch (error) {
    throw nativeAddonError(error) ?? error;
  }
  return sqliteDriver(db, true);
}

/** What to do when the installed better-sqlite3 and this Node do not fit together. */
const REMEDY =
  "Install a better-sqlite3 release built for this Node (better-sqlite3@12 runs on Node 20 to 26; 13 needs Node 22.14 or later), " +
  "or run a Node it supports; after changing Node, rebuild it with: npm rebuild better-sqlite3";

/** The installed better-sqlite3's version and supported Node range, when its manifest can be read. */
function installedBetterSqlite3(): { version: string; node: string | undefined } | undefined {
  try {
    const createRequire = nodeBuiltin<typeof import("node:module")>("node:module")?.createRequire;
    if (createRequire === undefined) return undefined;
    const manifest = createRequire(import.meta.url)("better-sqlite3/package.json") as { version?: unknown; engines?: { node?: unknown } };
    return { version: String(manifest.version), node: typeof manifest.engines?.node === "string" ? manifest.engines.node : undefined };
  } catch {
    return undefined;
  }
}

/**
 * better-sqlite3 ships prebuilt addons that can crash the whole process (a segfault, nothing to
 * catch) on a Node outside its `engines` range, as 13 does on Node 20. Refuse before loading it.
 */
function refuseUnsupportedNode(): void {
  const installed = installedBetterSqlite3();
  if (installed === undefined) return;
  const floor = CRASHES_BELOW[installed.version.split(".")[0] ?? ""];
  const unsupported = [installed.node, floor].find((range) => range !== undefined && !nodeSatisfies(range, process.versions.node));
  if (unsupported === undefined) return;
  throw new ConfigurationError(
    `The SQLite backend cannot use better-sqlite3 ${installed.version} on Node ${process.versions.node}: it supports Node ${unsupported}, and loading it here would crash the process. ${REMEDY}`,
  );
}

/**
 * Nodes a better-sqlite3 major crashes although its `engines` allows them: 13's prebuilt addon
 * segfaults on Node 22.12 and 22.13 (engines says >=22; test/package.test.ts runs it on 22.12.0).
 */
const CRASHES_BELOW: Readonly<Record<string, string>> = { "13": ">=22.14.0" };

/**
 * Whether `version` (x.y.z) is in an `engines.node` range. Reads the forms drivers use
 * (`>=22`, `20.x || 22.x`, `^20.19.0`, `>=18 <25`); a form it cannot read counts as satisfied,
 * so an unusual range never blocks a driver that would work.
 */
export function nodeSatisfies(range: string, version: string): boolean {
  const parse = (text: string) => text.split(".").map((part) => (/^\d+$/.test(part) ? Number(part) : undefined));
  const [major = 0, minor = 0, patch = 0] = parse(version).map((part) => part ?? 0);
  const compare = (wanted: (number | undefined)[]) => {
    const [a = 0, b = 0, c = 0] = wanted;
    return major - a || minor - b || patch - c;
  };
  const comparator = (text: string): boolean => {
    const match = /^(>=|<=|>|<|\^|~|=)?v?(\d+(?:\.(?:\d+|x|\*))*)$/.exec(text);
    if (!match) return true;
    const operator = match[1] ?? "";
    const wanted = parse(match[2]!);
    const order = compare(wanted);
    if (operator === ">=") return order >= 0;
    if (operator === ">") return order > 0;
    if (operator === "<=") return order <= 0;
    if (operator === "<") return order < 0;
    if (operator === "^") return major === wanted[0] && order >= 0;
    if (operator === "~") return major === wanted[0] && minor === (wanted[1] ?? minor) && order >= 0;
    // "20", "20.x", "20.19.x": every given part must match.
    return wanted.every((part, index) => part === undefined || part === [major, minor, patch][index]);
  };
  return range.split("||").some((set) => set.trim().split(/\s+/).every(comparator));
}

/**
 * better-sqlite3 loads its compiled addon on the first `new Database()`. When that fails with an
 * error (not built, or built for another Node), the raw message names a .node file; say instead
 * which versions fit and how to fix it.
 */
function nativeAddonError(error: unknown): ConfigurationError | undefined {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  if (code !== "ERR_DLOPEN_FAILED" && !/bindings file|NODE_MODULE_VERSION|\.node\b/.test(message)) return undefined;
  const installed = installedBetterSqlite3();
  return new ConfigurationError(
    `The SQLite backend could not load better-sqlite3${installed === undefined ? "" : ` ${installed.version}`} on Node ${process.versions.node}: its native addon is missing or built for another Node. ${REMEDY}`,
    { cause: error },
  );
}

/** Whether `client` looks like a better-sqlite3 Database (checked by shape, so better-sqlite3 itself is not loaded). */
export function isSqliteDatabase(client: unknown): client is Database {
  const candidate = client as { prepare?: unknown; pragma?: unknown } | null;
  return typeof candidate?.prepare === "function" && typeof candidate.pragma === "function";
}

/**
 * Switches the file to WAL. On a fresh file opened by two processes at the same moment, SQLite
 * answers SQLITE_BUSY to one of them at once, without its busy wait (it would risk a deadlock), so
 * retry for as long as a writer would wait. A short blocking sleep: this runs once per connection.
 */
function switchToWal(db: Database): void {
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      db.pragma("journal_mode = WAL");
      return;
    } catch (error) {
      if ((error as { code?: unknown }).code !== "SQLITE_BUSY" || Date.now() >= deadline) throw error;
      Atomics.wait(pause, 0, 0, 10);
    }
  }
}

/** Wraps an existing better-sqlite3 Database; `owned` says whether `close()` closes it. */
export function sqliteDriver(db: Database, owned: boolean): SqlDriver {
  if (!db.memory) switchToWal(db);
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
    // SQLite has no error code of its own for it: the message names the table.
    isMissingTable: (error) => /no such table/i.test(error instanceof Error ? error.message : ""),
    async close() {
      if (owned && db.open) db.close();
    },
  };
}
