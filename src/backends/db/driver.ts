/**
 * The small interface each SQL driver implements, so the session logic in `index.ts` is written
 * once for every dialect. Statements use `?` placeholders; a driver converts if it must.
 * @module
 */
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
    if (prepare)
      await prepare(d).catch(async (error: unknown) => {
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

/**
 * Runs `work` in one transaction on one connection: `begin`, then COMMIT, or ROLLBACK if it
 * fails. `release` hands the connection back, given the ROLLBACK's own error when even that
 * failed (such a connection is broken: discard it).
 */
export async function inTransaction<T>(
  exec: (statement: string) => Promise<unknown>,
  begin: string,
  work: () => Promise<T>,
  release: (rollbackError: Error | undefined) => void,
): Promise<T> {
  let rollbackError: Error | undefined;
  try {
    await exec(begin);
    const result = await work();
    await exec("COMMIT");
    return result;
  } catch (error) {
    await exec("ROLLBACK").catch((failure: unknown) => (rollbackError = failure instanceof Error ? failure : new Error(String(failure))));
    throw error;
  } finally {
    release(rollbackError);
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
