/**
 * `databaseBackend({ url })`: sessions in a SQL table (Django's default engine), on SQLite
 * (`sqlite:<file>`, `sqlite::memory:`), PostgreSQL (`postgres://…`) or MariaDB/MySQL (`mysql://…`).
 * @module
 */
import { ConfigurationError, CreateError, UpdateError, VersionConflictError } from "../../errors.js";
import { hashKey } from "../../keys.js";
import type { ServerBackend, SessionWrite, StoredSession } from "../base.js";
import type { Row, SqlDriver } from "./driver.js";
import { LEDGER_DDL, MIGRATIONS, MIGRATIONS_TABLE, SESSIONS_TABLE, type Dialect } from "./schema.js";
import { openSqlite, sqliteDriver } from "./sqlite.js";

export { schemaSql, MIGRATIONS, SESSIONS_TABLE, type Dialect } from "./schema.js";
export type { SqlDriver } from "./driver.js";

/** Options of {@link databaseBackend}. */
export interface DatabaseBackendOptions {
  /**
   * Where the database is: `sqlite:sessions.sqlite3`, `sqlite::memory:`, `postgres://user:pass@host/db`,
   * `mysql://user:pass@host/db`.
   * @example url: process.env.DATABASE_URL
   */
  url?: string;
  /** An existing better-sqlite3 `Database` to use instead of a URL (Tessera will not close it). */
  client?: unknown;
  /**
   * Rows `clearExpired` deletes per statement, so a huge backlog never holds a long lock.
   * @default 1000
   */
  batchSize?: number;
}

/** The one backend name per dialect, used in errors. */
const NAMES: Record<Dialect, string> = { sqlite: "sqlite", postgres: "postgres", mysql: "mysql" };

/** Sessions in a SQL database. SQLite migrates itself on first use; others run `tessera migrate`. */
export function databaseBackend(options: DatabaseBackendOptions): ServerBackend & { readonly dialect: Dialect } {
  const batchSize = options.batchSize ?? 1000;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConfigurationError("databaseBackend batchSize must be a positive whole number.");
  const { dialect, connect } = resolveConnection(options);

  // Connect on first use, so creating the backend costs nothing and startup order does not matter.
  let driver: Promise<SqlDriver> | undefined;
  const db = () =>
    (driver ??= connect().then(async (d) => {
      if (d.dialect === "sqlite") await migrate(d); // the embedded default just works
      return d;
    }));

  const columns = "data, expires_at, version, user_id, created_at, updated_at";
  return {
    kind: "server",
    name: NAMES[dialect],
    dialect,
    async load(key, now) {
      const rows = await (await db()).all(`SELECT ${columns} FROM ${SESSIONS_TABLE} WHERE key_hash = ? AND expires_at > ?`, [hashKey(key), now]);
      return rows[0] === undefined ? null : toStored(rows[0]);
    },
    async create(key, write) {
      const d = await db();
      try {
        await d.run(`INSERT INTO ${SESSIONS_TABLE} (key_hash, ${columns}) VALUES (?, ?, ?, 1, ?, ?, ?)`, [hashKey(key), write.data, write.expiresAt, write.userId, write.now, write.now]);
      } catch (error) {
        if (d.isUniqueViolation(error)) throw new CreateError();
        throw error;
      }
    },
    async update(key, write: SessionWrite, expectedVersion) {
      const d = await db();
      const id = hashKey(key);
      const changed = await d.run(
        `UPDATE ${SESSIONS_TABLE} SET data = ?, expires_at = ?, user_id = ?, updated_at = ?, version = version + 1 WHERE key_hash = ? AND version = ?`,
        [write.data, write.expiresAt, write.userId, write.now, id, expectedVersion],
      );
      if (changed > 0) return;
      // Nothing matched: either someone deleted the row (never resurrect it) or saved first.
      const rows = await d.all(`SELECT 1 AS found FROM ${SESSIONS_TABLE} WHERE key_hash = ?`, [id]);
      throw rows.length === 0 ? new UpdateError() : new VersionConflictError();
    },
    async delete(key) {
      await (await db()).run(`DELETE FROM ${SESSIONS_TABLE} WHERE key_hash = ?`, [hashKey(key)]);
    },
    async exists(key) {
      return (await (await db()).all(`SELECT 1 AS found FROM ${SESSIONS_TABLE} WHERE key_hash = ?`, [hashKey(key)])).length > 0;
    },
    async clearExpired(now) {
      const d = await db();
      // Django deletes `expire_date < now` (while load keeps `> now`); small batches keep locks short.
      const statement =
        d.dialect === "mysql"
          ? `DELETE FROM ${SESSIONS_TABLE} WHERE expires_at < ? LIMIT ${batchSize}`
          : `DELETE FROM ${SESSIONS_TABLE} WHERE key_hash IN (SELECT key_hash FROM ${SESSIONS_TABLE} WHERE expires_at < ? LIMIT ${batchSize})`;
      let total = 0;
      for (;;) {
        const deleted = await d.run(statement, [now]);
        total += deleted;
        if (deleted < batchSize) return total;
      }
    },
    async migrate() {
      await migrate(await db());
    },
    async close() {
      const pending = driver;
      driver = undefined;
      if (pending) await (await pending).close();
    },
  };
}

/** Applies the migrations the database lacks, each recorded in the ledger, in one transaction. */
async function migrate(d: SqlDriver): Promise<void> {
  await d.run(LEDGER_DDL[d.dialect], []);
  await d.transaction(async (tx) => {
    const applied = new Set((await tx.all(`SELECT version FROM ${MIGRATIONS_TABLE}`, [])).map((row) => Number(row["version"])));
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      for (const statement of migration.statements[d.dialect]) await tx.run(statement, []);
      await tx.run(`INSERT INTO ${MIGRATIONS_TABLE} (version, name, applied_at) VALUES (?, ?, ?)`, [migration.version, migration.name, Date.now()]);
    }
  });
}

function toStored(row: Row): StoredSession {
  return {
    data: String(row["data"]),
    expiresAt: Number(row["expires_at"]),
    version: Number(row["version"]),
    userId: row["user_id"] === null || row["user_id"] === undefined ? null : String(row["user_id"]),
    createdAt: Number(row["created_at"]),
    updatedAt: Number(row["updated_at"]),
  };
}

/** Turns the options into a dialect and a way to connect, rejecting what cannot work. */
function resolveConnection(options: DatabaseBackendOptions): { dialect: Dialect; connect: () => Promise<SqlDriver> } {
  if (options.client !== undefined) {
    const client = options.client as { prepare?: unknown; pragma?: unknown };
    if (typeof client.prepare === "function" && typeof client.pragma === "function") {
      return { dialect: "sqlite", connect: async () => sqliteDriver(options.client as Parameters<typeof sqliteDriver>[0], false) };
    }
    throw new ConfigurationError("databaseBackend client must be a better-sqlite3 Database; otherwise pass a url.");
  }
  const url = options.url;
  if (typeof url !== "string" || url === "") {
    throw new ConfigurationError('databaseBackend needs a url, e.g. databaseBackend({ url: "sqlite:sessions.sqlite3" }) or "postgres://user:pass@localhost/app".');
  }
  if (url.startsWith("sqlite:")) {
    const file = url.slice("sqlite:".length).replace(/^\/\//, "");
    if (file === "") throw new ConfigurationError('A sqlite URL names a file: "sqlite:sessions.sqlite3", or "sqlite::memory:" for an in-memory database.');
    return { dialect: "sqlite", connect: () => openSqlite(file) };
  }
  throw new ConfigurationError(`databaseBackend does not know the URL scheme of ${JSON.stringify(url.replace(/\/\/[^@/]*@/, "//***@"))}: use sqlite:<file> or sqlite::memory:.`);
}
