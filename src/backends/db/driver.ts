/**
 * The small interface each SQL driver implements, so the session logic in `index.ts` is written
 * once for every dialect. Statements use `?` placeholders; a driver converts if it must.
 * @module
 */
import { MissingDependencyError } from "../../errors.js";
import type { Dialect } from "./schema.js";

/** A row as drivers return it. */
export type Row = Record<string, unknown>;

/** A connection (or pool) to one database. */
export interface SqlDriver {
  readonly dialect: Dialect;
  /** Runs a query and returns its rows. */
  all(sql: string, params: readonly unknown[]): Promise<Row[]>;
  /** Runs a statement and returns how many rows it changed. */
  run(sql: string, params: readonly unknown[]): Promise<number>;
  /** Runs `work` in one transaction on one connection (used by migrations). */
  transaction<T>(work: (tx: Pick<SqlDriver, "all" | "run">) => Promise<T>): Promise<T>;
  /** Whether `error` is the database's unique/primary-key violation. */
  isUniqueViolation(error: unknown): boolean;
  /** Whether `error` says the table does not exist (the database was never migrated). */
  isMissingTable?(error: unknown): boolean;
  /**
   * Whether `error` says a table, index or column already exists. Only needed where DDL is not
   * transactional (MySQL): a step interrupted after its DDL but before its ledger row re-runs.
   */
  isAlreadyExists?(error: unknown): boolean;
  close(): Promise<void>;
}

/**
 * Loads an optional peer dependency, or explains which package to install. `packageName`
 * differs from `name` for a subpath such as "mysql2/promise".
 */
/**
 * A connection opened on first use (creating the backend costs nothing and startup order does not
 * matter), then shared. A failed open is not kept: the next call tries again, so a database that
 * was briefly locked or down at the first request does not fail every request after it.
 * `prepare` runs once on a fresh connection (SQLite migrates itself there); if it fails, the
 * connection is closed and the next call starts over.
 */
export function lazyDriver(connect: () => Promise<SqlDriver>, prepare?: (d: SqlDriver) => Promise<void>) {
  let pending: Promise<SqlDriver> | undefined;
  const open = async (): Promise<SqlDriver> => {
    const d = await connect();
    if (prepare) await prepare(d).catch(async (error: unknown) => {
      await d.close().catch(() => {});
      throw error;
    });
    return d;
  };
  return {
    get(): Promise<SqlDriver> {
      if (pending) return pending;
      const attempt = open();
      pending = attempt;
      attempt.catch(() => {
        if (pending === attempt) pending = undefined;
      });
      return attempt;
    },
    /** Closes the connection if one opened; one that never opened has nothing to release (its error was already reported). */
    async close(): Promise<void> {
      const opened = await pending?.catch(() => undefined);
      pending = undefined;
      if (opened) await opened.close();
    },
  };
}

export async function importPeer<T>(name: string, feature: string, packageName = name): Promise<T> {
  try {
    // Left to the runtime, not the app's bundler (Next.js/Turbopack, webpack, Vite), which
    // cannot follow an import of a variable and would fail it: the driver is the app's own dependency.
    return (await import(/* webpackIgnore: true */ /* turbopackIgnore: true */ /* @vite-ignore */ name)) as T;
  } catch (error) {
    if ((error as { code?: string }).code === "ERR_MODULE_NOT_FOUND") throw new MissingDependencyError(packageName, feature, error);
    throw error;
  }
}

/** Rows a batched delete removes per statement when the app sets no `batchSize`. */
export function defaultBatchSize(dialect: SqlDriver["dialect"]): number {
  // SQLite deletes in the app's own thread, so each batch is a stall: keep them small.
  return dialect === "sqlite" ? 200 : 1000;
}

/**
 * Deletes what `criterion` selects (`column < ?`) from `table`, `batchSize` rows per statement,
 * letting the app serve requests between batches, and returns how many rows went. Small batches
 * keep locks short; the pause matters most on SQLite, whose driver blocks the event loop.
 */
export async function deleteInBatches(d: SqlDriver, table: string, keyColumn: string, criterion: string, param: unknown, batchSize: number): Promise<number> {
  const statement =
    d.dialect === "mysql"
      ? `DELETE FROM ${table} WHERE ${criterion} LIMIT ${batchSize}`
      : `DELETE FROM ${table} WHERE ${keyColumn} IN (SELECT ${keyColumn} FROM ${table} WHERE ${criterion} LIMIT ${batchSize})`;
  let total = 0;
  for (;;) {
    const deleted = await d.run(statement, [param]);
    total += deleted;
    if (deleted < batchSize) return total;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

