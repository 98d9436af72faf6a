/**
 * SQLite: WAL (readers never block the writer), a busy timeout (writers from other processes wait
 * instead of failing), prepared statements reused. Three libraries share that synchronous API:
 * better-sqlite3 (the peer dependency), Node's own `node:sqlite` (Node 22.13+) and Bun's
 * `bun:sqlite`. {@link openSqlite} picks one: Bun's on Bun (better-sqlite3's addon does not load
 * there), else better-sqlite3, else node:sqlite when better-sqlite3 is not installed.
 * @module
 */
import type BetterSqlite3 from "better-sqlite3";
import { nodeBuiltin } from "../../runtime.js";
import { ConfigurationError, MissingDependencyError } from "../../errors.js";
import { importPeer } from "../peer.js";
import { openBunSqlite, runsOnBun } from "./bun-sqlite.js";
import type { SqlDriver } from "./driver.js";
import { nodeSqliteDriver, nodeSqliteModule } from "./node-sqlite.js";

type Database = BetterSqlite3.Database;

/** How long a writer waits for another process's write lock before failing. */
const BUSY_TIMEOUT_MS = 5000;

/** Opens `file` (or `:memory:`) with the SQLite library this runtime has (see the module's doc). */
export async function openSqlite(file: string): Promise<SqlDriver> {
  if (runsOnBun()) return openBunSqlite(file);
  let module: { default: typeof BetterSqlite3 };
  try {
    module = await importPeer<{ default: typeof BetterSqlite3 }>("better-sqlite3", "The SQLite backend (sqlite: URLs and the default backend)");
  } catch (error) {
    if (!(error instanceof MissingDependencyError)) throw error;
    const builtin = nodeSqliteModule();
    if (builtin) return nodeSqliteDriver(new builtin.DatabaseSync(file), file === ":memory:", true);
    throw new MissingDependencyError(
      "better-sqlite3",
      `The SQLite backend (sqlite: URLs and the default backend) on Node ${nodeVersion()}, which has no node:sqlite (Node 22.13 and later do),`,
      error,
    );
  }
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
  const unsupported = [installed.node, floor].find((range) => range !== undefined && !nodeSatisfies(range, nodeVersion()));
  if (unsupported === undefined) return;
  throw new ConfigurationError(
    `The SQLite backend cannot use better-sqlite3 ${installed.version} on Node ${nodeVersion()}: it supports Node ${unsupported}, and loading it here would crash the process. ${REMEDY}`,
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
    `The SQLite backend could not load better-sqlite3${installed === undefined ? "" : ` ${installed.version}`} on Node ${nodeVersion()}: its native addon is missing or built for another Node. ${REMEDY}`,
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
function switchToWal(db: SyncSqlite, isBusy: (error: unknown) => boolean): void {
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      db.exec("PRAGMA journal_mode = WAL");
      return;
    } catch (error) {
      if (!isBusy(error) || Date.now() >= deadline) throw error;
      Atomics.wait(pause, 0, 0, 10);
    }
  }
}

/** The synchronous API that better-sqlite3, node:sqlite and bun:sqlite share. */
export interface SyncSqlite {
  prepare(sql: string): { all(...params: never[]): unknown[]; run(...params: never[]): { changes: number | bigint } };
  exec(sql: string): unknown;
  close(): unknown;
}

/** What differs between the SQLite libraries: how they report errors, and whether the database is open. */
export interface SyncSqliteTraits {
  /** A `:memory:` database (no WAL there). */
  readonly memory: boolean;
  /** Whether `close()` closes the database (Tessera opened it). */
  readonly owned: boolean;
  /** Whether the database is still open, where the library can say (someone else may have closed it); this driver's own close() is tracked either way. */
  isOpen?(): boolean;
  isUniqueViolation(error: unknown): boolean;
  isBusy(error: unknown): boolean;
}

/** Wraps an existing better-sqlite3 Database; `owned` says whether `close()` closes it. */
export function sqliteDriver(db: Database, owned: boolean): SqlDriver {
  const code = (error: unknown) => (error as { code?: unknown }).code;
  return syncSqliteDriver(db, {
    memory: db.memory,
    owned,
    isOpen: () => db.open,
    isUniqueViolation: (error) => code(error) === "SQLITE_CONSTRAINT_PRIMARYKEY" || code(error) === "SQLITE_CONSTRAINT_UNIQUE",
    isBusy: (error) => code(error) === "SQLITE_BUSY",
  });
}

/** The one driver for the three libraries. */
export function syncSqliteDriver(db: SyncSqlite, traits: SyncSqliteTraits): SqlDriver {
  if (!traits.memory) switchToWal(db, traits.isBusy);
  db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.exec("PRAGMA synchronous = NORMAL");
  let closed = false;
  type Statement = ReturnType<SyncSqlite["prepare"]>;
  const statements = new Map<string, Statement>();
  const prepare = (sql: string) => {
    let statement = statements.get(sql);
    if (statement === undefined) statements.set(sql, (statement = db.prepare(sql)));
    return statement;
  };
  const all = async (sql: string, params: readonly unknown[]) => prepare(sql).all(...(params as never[])) as Record<string, unknown>[];
  const run = async (sql: string, params: readonly unknown[]) => Number(prepare(sql).run(...(params as never[])).changes);
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
    isUniqueViolation: traits.isUniqueViolation,
    // SQLite has no error code of its own for it: the message names the table.
    isMissingTable: (error) => /no such table/i.test(error instanceof Error ? error.message : ""),
    async close() {
      if (traits.owned && !closed && (traits.isOpen?.() ?? true)) db.close();
      closed = true;
    },
  };
}

/** This Node's version ("?" on a runtime that reports none). */
function nodeVersion(): string {
  return (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node ?? "?";
}

/** SQLite's primary result code of an error that carries an extended one (`errcode`, `errno`). */
export function sqlitePrimaryCode(error: unknown): number | undefined {
  const { errcode, errno } = (error ?? {}) as { errcode?: unknown; errno?: unknown };
  const code = typeof errcode === "number" ? errcode : errno;
  return typeof code === "number" ? code & 0xff : undefined;
}

/** SQLITE_CONSTRAINT_PRIMARYKEY and SQLITE_CONSTRAINT_UNIQUE, the extended codes of a duplicate key. */
export const SQLITE_DUPLICATE_KEY_CODES: ReadonlySet<number> = new Set([1555, 2067]);
/** SQLITE_BUSY, the primary code of "another connection holds the lock". */
export const SQLITE_BUSY = 5;
