/**
 * PostgreSQL through `pg`: a pool (or the app's own pool or client), `?` placeholders turned
 * into `$1, $2…` in named (prepared) statements, migrations in a transaction on one pooled connection.
 * @module
 */
import { sha256Hex } from "../../crypto.js";
import type pg from "pg";
import { importPeer } from "../peer.js";
import { inTransaction, type Row, type SqlDriver } from "./driver.js";

/** Connection settings for a pool Tessera creates from a URL. */
export interface PoolSettings {
  /** Most connections open at once. */
  readonly poolSize: number;
  /** How long opening a connection may take before the call fails. */
  readonly connectTimeoutMs: number;
  /** How long one statement may run before the server cancels it. */
  readonly statementTimeoutMs: number;
}

/** Either a `pg.Pool` or a connected `pg.Client`: both have `query`. */
type PgClient = pg.Pool | pg.ClientBase;

/** SQLSTATE codes (https://www.postgresql.org/docs/current/errcodes-appendix.html). */
const UNIQUE_VIOLATION = "23505";
const UNDEFINED_TABLE = "42P01";

/** Opens a pool on `url` (`postgres://` or `postgresql://`). */
export async function openPostgres(url: string, settings: PoolSettings): Promise<SqlDriver> {
  const module = await importPeer<{ default: typeof pg }>("pg", "The PostgreSQL backend (postgres:// URLs)");
  const pool = new module.default.Pool({
    connectionString: url,
    max: settings.poolSize,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    // Server-side: the statement is cancelled and the connection stays usable.
    statement_timeout: settings.statementTimeoutMs,
    keepAlive: true,
    application_name: "tessera",
  });
  // A server restart makes idle connections emit "error" on the pool; unheard, Node would
  // crash the app. The pool drops them and the next query opens a fresh connection.
  pool.on("error", () => {});
  return postgresDriver(pool, true);
}

/** Whether `value` looks like a pg Pool or Client (checked by shape, so any copy of pg works). */
export function isPgClient(value: unknown): value is PgClient {
  const candidate = value as { query?: unknown; connect?: unknown; execute?: unknown } | null;
  // mysql2's connections also have query and connect, but pg has no execute.
  return typeof candidate?.query === "function" && typeof candidate.connect === "function" && candidate.execute === undefined;
}

/**
 * Wraps a pg Pool or Client; `owned` says whether `close()` ends it. A Client is one connection,
 * so the app's own queries sent during `migrate()` would join its transaction: prefer a Pool.
 */
export function postgresDriver(client: PgClient, owned: boolean): SqlDriver {
  const isPool = typeof (client as { totalCount?: unknown }).totalCount === "number";
  const converted = new Map<string, { name: string; text: string }>();
  // Our statements hold no string literals or operators with "?", so a plain rewrite is exact.
  // Each gets a name, so every connection parses and plans it once (a prepared statement).
  const prepared = (sql: string) => {
    let statement = converted.get(sql);
    if (statement === undefined) {
      let n = 0;
      const text = sql.replace(/\?/g, () => `$${++n}`);
      // Named by its text, so backends sharing one pool (and its connections) agree on names.
      statement = { name: `tessera_${sha256Hex(text).slice(0, 24)}`, text };
      converted.set(sql, statement);
    }
    return statement;
  };
  const query = async (target: PgClient, sql: string, params: readonly unknown[]) => {
    try {
      // Statements without parameters (the schema's DDL) run unnamed: they run once.
      if (params.length === 0) return await target.query<Row>(sql);
      const { name, text } = prepared(sql);
      return await target.query<Row>({ name, text, values: [...params] });
    } catch (error) {
      throw explainExhaustedPool(error, target);
    }
  };
  const on = (target: PgClient) => ({
    all: async (sql: string, params: readonly unknown[]) => (await query(target, sql, params)).rows,
    run: async (sql: string, params: readonly unknown[]) => (await query(target, sql, params)).rowCount ?? 0,
  });
  const direct = on(client);
  return {
    dialect: "postgres",
    ...direct,
    async transaction(work) {
      // A transaction must stay on one connection: take one from the pool for its duration.
      const connection = isPool ? await (client as pg.Pool).connect() : undefined;
      const target = connection ?? client;
      // A connection that could not roll back is discarded (release with an error).
      return inTransaction(
        (statement) => target.query(statement),
        "BEGIN",
        () => work(on(target)),
        (broken) => connection?.release(broken),
      );
    },
    isUniqueViolation: (error) => (error as { code?: unknown } | null)?.code === UNIQUE_VIOLATION,
    isMissingTable: (error) => (error as { code?: unknown } | null)?.code === UNDEFINED_TABLE,
    async close() {
      if (owned) await (client as pg.Pool).end();
    },
  };
}

/**
 * pg-pool's message when every connection stayed busy for connectionTimeoutMillis; it names
 * neither the cause nor the fix, so say both.
 */
function explainExhaustedPool(error: unknown, target: PgClient): unknown {
  if (!(error instanceof Error) || error.message !== "timeout exceeded when trying to connect") return error;
  const options = (target as { options?: { max?: number; connectionTimeoutMillis?: number } }).options;
  return new Error(
    `the connection pool is exhausted: all ${options?.max ?? "its"} connections stayed busy for ${options?.connectionTimeoutMillis ?? "the connect timeout in"} ms. Raise poolSize, or look for requests or app code holding connections.`,
    { cause: error },
  );
}
