/**
 * The sessions table and its versioned migrations, per SQL dialect. `tessera migrate` applies
 * what a database lacks and records each step in `tessera_migrations`.
 * @module
 */

/** The SQL dialects `databaseBackend` speaks. */
export type Dialect = "sqlite" | "postgres" | "mysql";

/** The table every dialect uses. */
export const SESSIONS_TABLE = "tessera_sessions";
export const MIGRATIONS_TABLE = "tessera_migrations";

/** One schema step. Steps are append-only: a released step is never edited. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly statements: Readonly<Record<Dialect, readonly string[]>>;
}

/**
 * The session table: the key's SHA-256 (never the key), the JSON data, times in milliseconds
 * since the epoch from the app's clock (never the database's), a version for conflict-free
 * saves, and an indexed user id for "sign out everywhere".
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "create sessions table",
    statements: {
      sqlite: [
        `CREATE TABLE IF NOT EXISTS ${SESSIONS_TABLE} (
          key_hash TEXT PRIMARY KEY NOT NULL,
          data TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL,
          expires_at INTEGER NOT NULL,
          version INTEGER NOT NULL,
          user_id TEXT NULL
        )`,
        `CREATE INDEX IF NOT EXISTS ${SESSIONS_TABLE}_expires_at ON ${SESSIONS_TABLE} (expires_at)`,
        `CREATE INDEX IF NOT EXISTS ${SESSIONS_TABLE}_user_id ON ${SESSIONS_TABLE} (user_id)`,
      ],
      postgres: [
        `CREATE TABLE IF NOT EXISTS ${SESSIONS_TABLE} (
          key_hash CHAR(64) PRIMARY KEY,
          data TEXT NOT NULL,
          created_at BIGINT NOT NULL,
          updated_at BIGINT NOT NULL,
          expires_at BIGINT NOT NULL,
          version INTEGER NOT NULL,
          user_id VARCHAR(255) NULL
        )`,
        `CREATE INDEX IF NOT EXISTS ${SESSIONS_TABLE}_expires_at ON ${SESSIONS_TABLE} (expires_at)`,
        `CREATE INDEX IF NOT EXISTS ${SESSIONS_TABLE}_user_id ON ${SESSIONS_TABLE} (user_id)`,
      ],
      mysql: [
        `CREATE TABLE IF NOT EXISTS ${SESSIONS_TABLE} (
          key_hash CHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY,
          data LONGTEXT NOT NULL,
          created_at BIGINT NOT NULL,
          updated_at BIGINT NOT NULL,
          expires_at BIGINT NOT NULL,
          version INT NOT NULL,
          user_id VARCHAR(255) NULL,
          INDEX ${SESSIONS_TABLE}_expires_at (expires_at),
          INDEX ${SESSIONS_TABLE}_user_id (user_id)
        ) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
      ],
    },
  },
  {
    // The admin page and `tessera sessions list` walk sessions newest first by keyset.
    version: 2,
    name: "index sessions by creation",
    statements: {
      sqlite: [`CREATE INDEX IF NOT EXISTS ${SESSIONS_TABLE}_created_at ON ${SESSIONS_TABLE} (created_at, key_hash)`],
      postgres: [`CREATE INDEX IF NOT EXISTS ${SESSIONS_TABLE}_created_at ON ${SESSIONS_TABLE} (created_at, key_hash)`],
      // MySQL 8 has no CREATE INDEX IF NOT EXISTS; the ledger already makes the step run once.
      mysql: [`CREATE INDEX ${SESSIONS_TABLE}_created_at ON ${SESSIONS_TABLE} (created_at, key_hash)`],
    },
  },
];

/** The DDL that creates the migrations ledger itself. */
export const LEDGER_DDL: Readonly<Record<Dialect, string>> = {
  sqlite: `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (version INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`,
  postgres: `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`,
  mysql: `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (version INT NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL, applied_at BIGINT NOT NULL)`,
};

/** The whole schema for a dialect as one SQL script (`tessera sql <dialect>`), for teams that keep their own migrations. */
export function schemaSql(dialect: Dialect): string {
  return (
    MIGRATIONS.flatMap((m) => [
      `-- ${m.version}: ${m.name}`,
      ...m.statements[dialect].map((s) => `${s.replace(/\n\s+/g, "\n  ").replace(/\n  \)/g, "\n)")};`),
    ]).join("\n") + "\n"
  );
}
