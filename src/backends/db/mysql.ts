/**
 * MariaDB and MySQL through `mysql2`: a pool (or the app's own pool), values escaped by the
 * driver, migrations on one pooled connection.
 * @module
 */
import type { Pool, PoolConnection, ResultSetHeader } from "mysql2/promise";
import { importPeer } from "../peer.js";
import { inTransaction, type Row, type SqlDriver } from "./driver.js";
import type { PoolSettings } from "./postgres.js";

/** The server's error numbers (https://mariadb.com/kb/en/mariadb-error-code-reference/). */
const ER_DUP_ENTRY = 1062;
const ER_NO_SUCH_TABLE = 1146;
/** Table, column and index name already taken. */
const ALREADY_EXISTS = new Set([1050, 1060, 1061]);

/** What `import("mysql2/promise")` gives: named exports, or only a default under some loaders. */
type Mysql2Module = { createPool?: typeof import("mysql2/promise").createPool; default?: { createPool: typeof import("mysql2/promise").createPool } };

/** A mysql2 core (callback) connection, as the pool's "connection" event hands it over. */
type CoreConnection = { query(sql: string, callback: (error: unknown) => void): unknown };

/** Opens a pool on `url` (`mysql://` or `mariadb://`). */
export async function openMysql(url: string, settings: PoolSettings): Promise<SqlDriver> {
  const module = await importPeer<Mysql2Module>("mysql2/promise", "The MySQL/MariaDB backend (mysql:// and mariadb:// URLs)", "mysql2");
  const createPool = module.createPool ?? module.default?.createPool;
  if (createPool === undefined) throw new Error("mysql2/promise has no createPool export");
  const pool = createPool({
    uri: url,
    connectionLimit: settings.poolSize,
    connectTimeout: settings.connectTimeoutMs,
    charset: "utf8mb4", // emoji and every other character survive a round trip
  });
  // Server-side statement limit for each new connection: MariaDB calls it max_statement_time
  // (seconds), MySQL max_execution_time (milliseconds, SELECT only). Each server rejects the
  // other's variable, which is harmless. Queued first, so they run before any of our queries.
  pool.pool.on("connection", (connection: CoreConnection) => {
    const ignore = () => {};
    connection.query(`SET SESSION max_statement_time = ${settings.statementTimeoutMs / 1000}`, ignore);
    connection.query(`SET SESSION max_execution_time = ${Math.round(settings.statementTimeoutMs)}`, ignore);
  });
  return mysqlDriver(pool, true);
}

/** Whether `value` looks like a mysql2 pool, promise or callback flavour (checked by shape). */
export function isMysqlPool(value: unknown): value is Pool | { promise(): Pool } {
  const candidate = value as { getConnection?: unknown; query?: unknown; execute?: unknown } | null;
  return typeof candidate?.getConnection === "function" && typeof candidate.query === "function" && typeof candidate.execute === "function";
}

/** Wraps a mysql2 pool (a callback pool is used through its `.promise()` view); `owned` says whether `close()` ends it. */
export function mysqlDriver(given: Pool | { promise(): Pool }, owned: boolean): SqlDriver {
  // The callback pool has promise(); the promise pool has no such method.
  const pool = typeof (given as { promise?: unknown }).promise === "function" ? (given as { promise(): Pool }).promise() : (given as Pool);
  const on = (target: Pool | PoolConnection) => ({
    all: async (sql: string, params: readonly unknown[]) => (await target.query({ sql, values: [...params] }))[0] as Row[],
    // mysql2 asks for "found rows", so affectedRows counts matched rows; our UPDATE always
    // changes `version`, so matched and changed agree on every server setting anyway.
    run: async (sql: string, params: readonly unknown[]) => ((await target.query({ sql, values: [...params] }))[0] as ResultSetHeader).affectedRows,
  });
  const errno = (error: unknown) => (error as { errno?: unknown } | null)?.errno;
  return {
    dialect: "mysql",
    ...on(pool),
    async transaction(work) {
      // A transaction must stay on one connection: take one from the pool for its duration.
      const connection = await pool.getConnection();
      // A connection that could not roll back is discarded, not returned to the pool.
      return inTransaction(
        (statement) => connection.query(statement),
        "START TRANSACTION",
        () => work(on(connection)),
        (broken) => (broken ? connection.destroy() : connection.release()),
      );
    },
    isUniqueViolation: (error) => errno(error) === ER_DUP_ENTRY,
    isMissingTable: (error) => errno(error) === ER_NO_SUCH_TABLE,
    isAlreadyExists: (error) => ALREADY_EXISTS.has(errno(error) as number),
    async close() {
      if (owned) await pool.end();
    },
  };
}
