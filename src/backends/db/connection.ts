/**
 * The connection code both table formats of `databaseBackend` share: turning a URL or a client
 * into a dialect and a way to connect, and a session table on a lazily opened connection (the
 * statements every format runs the same way, the missing-table advice, close).
 * @module
 */
import { absolutePath } from "../../runtime.js";
import { BackendError, ConfigurationError, CreateError } from "../../errors.js";
import { shownUrl } from "../peer.js";
import { defaultBatchSize, deleteInBatches, lazyDriver, type SqlDriver } from "./driver.js";
import { isMysqlPool, mysqlDriver, openMysql } from "./mysql.js";
import { isPgClient, openPostgres, postgresDriver, type PoolSettings } from "./postgres.js";
import type { Dialect } from "./schema.js";
import { isSqliteDatabase, openSqlite, sqliteDriver } from "./sqlite.js";

/** A dialect and how to connect to it (nothing is opened until `connect` is called). */
export interface Connection {
  readonly dialect: Dialect;
  readonly connect: () => Promise<SqlDriver>;
  /** The SQLite file a `sqlite:` URL names, as an absolute path (see `ServerBackend.sqliteFile`). */
  readonly sqliteFile?: string;
}

/** Where the sessions are: a URL, or an existing client (with its dialect if its shape does not tell). */
export interface ConnectionOptions {
  url?: string | undefined;
  client?: unknown;
  dialect?: Dialect | undefined;
}

const DIALECTS: readonly Dialect[] = ["sqlite", "postgres", "mysql"];

/** Which dialect an existing client speaks, told apart by its methods (no driver is imported). */
function detectDialect(client: unknown): Dialect | undefined {
  if (isSqliteDatabase(client)) return "sqlite";
  if (isMysqlPool(client)) return "mysql";
  if (isPgClient(client)) return "postgres";
  return undefined;
}

/** Turns the options into a dialect and a way to connect, rejecting what cannot work. */
export function resolveConnection(options: ConnectionOptions, settings: PoolSettings): Connection {
  if (options.client !== undefined && options.client !== null) {
    const client = options.client;
    if (options.dialect !== undefined && !DIALECTS.includes(options.dialect))
      throw new ConfigurationError('databaseBackend dialect must be "sqlite", "postgres" or "mysql".');
    const dialect = options.dialect ?? detectDialect(client);
    // Tessera did not open these clients, so it does not close them (owned = false).
    if (dialect === "sqlite") return { dialect, connect: async () => sqliteDriver(client as Parameters<typeof sqliteDriver>[0], false) };
    if (dialect === "postgres") return { dialect, connect: async () => postgresDriver(client as Parameters<typeof postgresDriver>[0], false) };
    if (dialect === "mysql") return { dialect, connect: async () => mysqlDriver(client as Parameters<typeof mysqlDriver>[0], false) };
    throw new ConfigurationError("databaseBackend client must be a better-sqlite3 Database, a pg Pool or Client, or a mysql2 pool; otherwise pass a url.");
  }
  const url = options.url;
  if (typeof url !== "string" || url === "") {
    throw new ConfigurationError(
      'databaseBackend needs a url, e.g. databaseBackend({ url: "sqlite:sessions.sqlite3" }) or "postgres://user:pass@localhost/app".',
    );
  }
  if (url.startsWith("sqlite:")) {
    const file = url.slice("sqlite:".length).replace(/^\/\//, "");
    if (file === "") throw new ConfigurationError('A sqlite URL names a file: "sqlite:sessions.sqlite3", or "sqlite::memory:" for an in-memory database.');
    return { dialect: "sqlite", connect: () => openSqlite(file), ...(file === ":memory:" ? {} : { sqliteFile: absolutePath(file) }) };
  }
  // The drivers load pg or mysql2 on first use, so an app on SQLite needs neither installed.
  if (/^postgres(ql)?:\/\//i.test(url)) return { dialect: "postgres", connect: () => openPostgres(url, settings) };
  if (/^(mysql|mariadb):\/\//i.test(url)) return { dialect: "mysql", connect: () => openMysql(url, settings) };
  throw new ConfigurationError(
    `databaseBackend does not know the URL scheme of ${shownUrl(url)}: use sqlite:<file>, sqlite::memory:, postgres://… or mysql://….`,
  );
}

/** What a table format tells {@link sessionTable}. */
export interface TableSpec {
  /** The backend's name, used in errors. */
  readonly name: string;
  readonly table: string;
  /** The primary key column: what `id` names in the methods below. */
  readonly keyColumn: string;
  /** How to create the table, for the error a missing table gives. */
  readonly createAdvice: string;
  readonly connection: Connection;
  /** Runs once on a fresh connection before its first use (SQLite migrates itself); if it fails, the next use starts over. */
  readonly onOpen?: (d: SqlDriver) => Promise<void>;
  /** Rows `clearExpired` deletes per statement; the dialect's default when absent. */
  readonly batchSize: number | undefined;
}

/** A session table on a lazily opened connection (see {@link sessionTable}). */
export interface SessionTable {
  /** Runs `operation` on the connection, opened on first use; a missing table says how to create it. */
  use<T>(operation: (d: SqlDriver) => Promise<T>): Promise<T>;
  /** Inserts a row; a key that is taken is a `CreateError`. */
  insert(sql: string, params: readonly unknown[]): Promise<void>;
  /**
   * Runs an UPDATE of row `id`. When it changed nothing, asks whether the row is there at all:
   * "missing" (deleted meanwhile: never resurrect it) or "present" (it matched nothing else).
   */
  update(sql: string, params: readonly unknown[], id: string): Promise<"updated" | "missing" | "present">;
  /** Whether row `id` exists, expired or not. */
  exists(id: string): Promise<boolean>;
  /** Deletes row `id`; a missing row is not an error. */
  remove(id: string): Promise<void>;
  /** Deletes, in batches, the rows `criterion` (e.g. `expires_at < ?`) selects with `param`; returns how many. */
  clearExpired(criterion: string, param: unknown): Promise<number>;
  /** Releases the connection if one opened; the next use opens a new one. */
  close(): Promise<void>;
}

/** A session table on a connection opened on first use (see `lazyDriver`). */
export function sessionTable(spec: TableSpec): SessionTable {
  const { table, keyColumn } = spec;
  const connection = lazyDriver(spec.connection.connect, spec.onOpen);
  const use = async <T>(operation: (d: SqlDriver) => Promise<T>): Promise<T> => {
    const d = await connection.get();
    try {
      return await operation(d);
    } catch (error) {
      if (d.isMissingTable?.(error)) throw new BackendError(spec.name, `the table ${table} does not exist. ${spec.createAdvice}`, error);
      throw error;
    }
  };
  const probe = `SELECT 1 AS found FROM ${table} WHERE ${keyColumn} = ?`;
  return {
    use,
    insert: (sql, params) =>
      use(async (d) => {
        try {
          await d.run(sql, params);
        } catch (error) {
          if (d.isUniqueViolation(error)) throw new CreateError();
          throw error;
        }
      }),
    update: (sql, params, id) =>
      use(async (d) => {
        if ((await d.run(sql, params)) > 0) return "updated";
        return (await d.all(probe, [id])).length === 0 ? "missing" : "present";
      }),
    exists: (id) => use(async (d) => (await d.all(probe, [id])).length > 0),
    remove: (id) =>
      use(async (d) => {
        await d.run(`DELETE FROM ${table} WHERE ${keyColumn} = ?`, [id]);
      }),
    // Django deletes `expire_date < now` (while a load keeps `> now`); both formats follow it.
    clearExpired: (criterion, param) => use((d) => deleteInBatches(d, table, keyColumn, criterion, param, spec.batchSize ?? defaultBatchSize(d.dialect))),
    close: () => connection.close(),
  };
}
