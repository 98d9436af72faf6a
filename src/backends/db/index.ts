/**
 * `databaseBackend({ url })`: sessions in a SQL table (Django's default engine), on SQLite
 * (`sqlite:<file>`, `sqlite::memory:`), PostgreSQL (`postgres://…`) or MariaDB/MySQL (`mysql://…`).
 * The session logic is written once here; each dialect's driver only runs statements.
 * @module
 */
import { ConfigurationError, UpdateError, VersionConflictError } from "../../errors.js";
import { hashKey } from "../../keys.js";
import type { ServerBackend, SessionListQuery, SessionWrite, StoredSession } from "../base.js";
import { lazyServerBackend } from "../lazy.js";
import { decodeCursor, page } from "../listing.js";
import { resolveConnection, sessionTable } from "./connection.js";
import type { Row, SqlDriver } from "./driver.js";
import { djangoFormatSettings, poolSettings, wholeNumber } from "./options.js";
import { LEDGER_DDL, MIGRATIONS, MIGRATIONS_TABLE, SESSIONS_TABLE, type Dialect } from "./schema.js";

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
  /**
   * An existing connection to use instead of a URL: a better-sqlite3 `Database`, a pg `Pool` or
   * connected `Client`, or a mysql2 pool. Tessera never closes a client it was given.
   */
  client?: unknown;
  /**
   * Which database `client` is, when telling it apart by its shape is not enough.
   * @default detected from the client
   */
  dialect?: Dialect;
  /**
   * Most connections a PostgreSQL or MySQL pool opened from `url` keeps.
   * @default 10
   */
  poolSize?: number;
  /**
   * How long opening a PostgreSQL or MySQL connection may take before the call fails, in ms.
   * @default 10000
   */
  connectTimeoutMs?: number;
  /**
   * How long one statement may run before the server cancels it, in ms (PostgreSQL, MariaDB;
   * MySQL limits only reads).
   * @default 15000
   */
  statementTimeoutMs?: number;
  /**
   * Rows `clearExpired` deletes per statement, so a huge backlog never holds a long lock (and,
   * on SQLite, never blocks the app for long: it yields between batches).
   * @default 200 on SQLite, 1000 elsewhere
   */
  batchSize?: number;
  /**
   * `"django"` reads and writes Django's own `django_session` table instead of Tessera's, so a
   * Django site on the same database shares sessions (keys stored raw, last writer wins; see
   * docs/django.md).
   * @default "tessera"
   */
  format?: "tessera" | "django";
  /** With `format: "django"`: Django's `SECRET_KEY`, or `[SECRET_KEY, ...SECRET_KEY_FALLBACKS]`. */
  secret?: string | readonly string[];
}

/** The backend name per dialect, used in errors. */
const NAMES: Record<Dialect, string> = { sqlite: "sqlite", postgres: "postgres", mysql: "mysql" };

/** The methods of a Django-format table (it has no user index and no listing). */
const DJANGO_TABLE_METHODS = ["load", "create", "update", "delete", "exists", "clearExpired", "migrate"] as const;

/** Sessions in a SQL database. SQLite migrates itself on first use; others run `tessera migrate`. */
export function databaseBackend(options: DatabaseBackendOptions): ServerBackend & { readonly dialect: Dialect } {
  const batchSize = options.batchSize === undefined ? undefined : wholeNumber("databaseBackend", "batchSize", options.batchSize, 0);
  const connection = resolveConnection(options, poolSettings(options));
  const { dialect } = connection;
  const located = connection.sqliteFile === undefined ? {} : { sqliteFile: connection.sqliteFile };
  if (options.format === "django") {
    // Checked now, so a mistake fails at startup; the format's code (and Django's signing) loads on first use.
    const settings = djangoFormatSettings({ secret: options.secret ?? [], ...(batchSize === undefined ? {} : { batchSize }) });
    return lazyServerBackend({ ...located, name: `django-${dialect}`, keepsCreationTime: false, dialect }, DJANGO_TABLE_METHODS, async () =>
      (await import("./django.js")).djangoTable(settings, connection),
    );
  }
  if (options.format !== undefined && options.format !== "tessera") throw new ConfigurationError('databaseBackend format must be "tessera" or "django".');

  const table = sessionTable({
    name: NAMES[dialect],
    table: SESSIONS_TABLE,
    keyColumn: "key_hash",
    createAdvice: "Run `npx tessera migrate` (or call sessions.migrate()) to create it.",
    connection,
    onOpen: async (d) => {
      if (d.dialect === "sqlite") await migrate(d); // the embedded default just works
    },
    batchSize,
  });
  const { use } = table;

  const columns = "data, expires_at, version, user_id, created_at, updated_at";
  return {
    ...located,
    kind: "server",
    name: NAMES[dialect],
    dialect,
    load: (key, now) =>
      use(async (d) => {
        const rows = await d.all(`SELECT ${columns} FROM ${SESSIONS_TABLE} WHERE key_hash = ? AND expires_at > ?`, [hashKey(key), ms(now)]);
        return rows[0] === undefined ? null : toStored(rows[0]);
      }),
    create: (key, write) =>
      table.insert(`INSERT INTO ${SESSIONS_TABLE} (key_hash, ${columns}) VALUES (?, ?, ?, 1, ?, ?, ?)`, [
        hashKey(key),
        write.data,
        ms(write.expiresAt),
        write.userId,
        ms(write.now),
        ms(write.now),
      ]),
    async update(key, write: SessionWrite, expectedVersion) {
      const id = hashKey(key);
      const outcome = await table.update(
        `UPDATE ${SESSIONS_TABLE} SET data = ?, expires_at = ?, user_id = ?, updated_at = ?, version = version + 1 WHERE key_hash = ? AND version = ?`,
        [write.data, ms(write.expiresAt), write.userId, ms(write.now), id, expectedVersion],
        id,
      );
      // Nothing matched: either someone deleted the row (never resurrect it) or saved first.
      if (outcome === "missing") throw new UpdateError();
      if (outcome === "present") throw new VersionConflictError();
    },
    delete: (key) => table.remove(hashKey(key)),
    exists: (key) => table.exists(hashKey(key)),
    // The user index: user_id is indexed; ids are the stored key hashes, never keys.
    listByUser: (userId, now) =>
      use(async (d) => {
        const rows = await d.all(`SELECT key_hash, ${columns} FROM ${SESSIONS_TABLE} WHERE user_id = ? AND expires_at > ? ORDER BY updated_at DESC`, [
          userId,
          ms(now),
        ]);
        return rows.map((row) => ({ ...toStored(row), id: String(row["key_hash"]) }));
      }),
    deleteByUser: (userId, exceptId) =>
      use((d) =>
        exceptId === undefined
          ? d.run(`DELETE FROM ${SESSIONS_TABLE} WHERE user_id = ?`, [userId])
          : d.run(`DELETE FROM ${SESSIONS_TABLE} WHERE user_id = ? AND key_hash <> ?`, [userId, exceptId]),
      ),
    deleteById: (id) => table.remove(id),
    listSessions: (query) =>
      use(async (d) => {
        const { where, params } = listFilter(query);
        // One more row than asked says whether a next page exists; LIMIT is a checked integer.
        const limit = Math.max(1, Math.min(Math.floor(query.limit), 10_000));
        const rows = await d.all(
          `SELECT key_hash, ${columns} FROM ${SESSIONS_TABLE}${where} ORDER BY created_at DESC, key_hash DESC LIMIT ${limit + 1}`,
          params,
        );
        return page(
          rows.map((row) => ({ ...toStored(row), id: String(row["key_hash"]) })),
          limit,
        );
      }),
    clearExpired: (now) => table.clearExpired("expires_at < ?", ms(now)),
    migrate: () => use(migrate),
    close: () => table.close(),
  };
}

/** An arbitrary constant naming Tessera's migration lock (PostgreSQL advisory lock, MySQL GET_LOCK). */
const MIGRATION_LOCK_ID = 7_385_366_301;
const MIGRATION_LOCK_NAME = "tessera_migrate";

/**
 * Applies the migrations the database lacks, each recorded in the ledger, in one transaction.
 * A lock makes app instances that migrate at the same start-up take turns: the second finds
 * the work done. (MySQL commits DDL implicitly, so there the lock is what keeps it safe.)
 */
async function migrate(d: SqlDriver): Promise<void> {
  await d.transaction(async (tx) => {
    if (d.dialect === "postgres") await tx.all("SELECT pg_advisory_xact_lock(?)", [MIGRATION_LOCK_ID]);
    if (d.dialect === "mysql") await tx.all("SELECT GET_LOCK(?, 60)", [MIGRATION_LOCK_NAME]);
    try {
      // Under the lock: two concurrent "IF NOT EXISTS" creations still collide in PostgreSQL.
      await tx.run(LEDGER_DDL[d.dialect], []);
      const applied = new Set((await tx.all(`SELECT version FROM ${MIGRATIONS_TABLE}`, [])).map((row) => Number(row["version"])));
      for (const migration of MIGRATIONS) {
        if (applied.has(migration.version)) continue;
        for (const statement of migration.statements[d.dialect]) {
          await tx.run(statement, []).catch((error: unknown) => {
            // MySQL commits DDL at once: a step cut short before its ledger row re-runs here.
            if (!d.isAlreadyExists?.(error)) throw error;
          });
        }
        await tx.run(`INSERT INTO ${MIGRATIONS_TABLE} (version, name, applied_at) VALUES (?, ?, ?)`, [migration.version, migration.name, Date.now()]);
      }
    } finally {
      // GET_LOCK belongs to the connection, which goes back to the pool: release it explicitly.
      if (d.dialect === "mysql") await tx.all("SELECT RELEASE_LOCK(?)", [MIGRATION_LOCK_NAME]);
    }
  });
}

/**
 * The WHERE clause of a listing page. The cursor condition is written so every planner can use
 * the (created_at, key_hash) index as a range: `created_at <= t` bounds the scan and the OR only
 * filters the rows that share `t`. No OFFSET, so page 10 000 costs what page 1 does.
 */
function listFilter(query: SessionListQuery): { where: string; params: unknown[] } {
  const conditions: string[] = [];
  const params: unknown[] = [];
  const after = decodeCursor(query.after);
  if (after !== undefined) {
    conditions.push("created_at <= ? AND (created_at < ? OR key_hash < ?)");
    params.push(ms(after.createdAt), ms(after.createdAt), after.id);
  }
  if (query.id !== undefined) {
    conditions.push("key_hash = ?");
    params.push(query.id);
  }
  if (query.userId !== undefined) {
    conditions.push("user_id = ?");
    params.push(query.userId);
  }
  if (query.state !== "all") {
    conditions.push(query.state === "active" ? "expires_at > ?" : "expires_at <= ?");
    params.push(ms(query.now));
  }
  return { where: conditions.length === 0 ? "" : ` WHERE ${conditions.join(" AND ")}`, params };
}

/** Whole milliseconds: BIGINT columns reject fractions, which a custom clock may produce. */
function ms(time: number): number {
  return Math.floor(time);
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
