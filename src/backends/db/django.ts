/**
 * Sessions in Django's own `django_session` table, readable and writable by a Django site that
 * shares the database and the `SECRET_KEY`: a Node service and a Django site then share logins.
 * (The pinned entry point is `databaseBackend({ url, format: "django", secret })`, which loads
 * this module on first use; the connection code is the one of Tessera's table, ./connection.ts.)
 *
 * What is stored, exactly as Django's db engine stores it:
 *
 * - `session_key`: **the key itself, not its hash**. Django looks sessions up by the raw key, so
 *   this one backend gives up Tessera's hashed keys at rest: a leaked table holds usable keys,
 *   as it does for Django.
 * - `session_data`: the data in Django's signing format (salt
 *   `django.contrib.sessions.SessionStore`, zlib when it helps, base62 timestamp, HMAC-SHA256),
 *   JSON written as Python writes it (see `src/django/signing.ts`).
 * - `expire_date`: the absolute expiry as Django keeps it per dialect: on SQLite the text
 *   `YYYY-MM-DD HH:MM:SS[.ffffff]` in UTC, on PostgreSQL a `timestamp with time zone`, on
 *   MariaDB/MySQL a `datetime(6)` in UTC. This assumes Django's `USE_TZ = True` (the default).
 *
 * Conflicts: Django's table has no version column, so concurrent saves of one session are
 * last-writer-wins, as in Django (Tessera's key-level merge needs Tessera's own table). A save
 * never resurrects a row deleted meanwhile (a logout elsewhere): it fails with `UpdateError`,
 * which the middleware turns into a 400, as Django does.
 * @module
 */
import { UpdateError } from "../../errors.js";
import { RecentMap } from "../../recent-map.js";
import { pythonDatetime } from "../../codec.js";
import { parsePythonJson, pythonJson, SESSION_STORE_SALT, signPayload, unsignPayload } from "../../django/signing.js";
import type { ServerBackend, SessionWrite, StoredSession } from "../base.js";
import { resolveConnection, sessionTable, type Connection } from "./connection.js";
import type { Row } from "./driver.js";
import { djangoFormatSettings, poolSettings, type DjangoFormatSettings } from "./options.js";
import type { Dialect } from "./schema.js";

/** Django's session table. */
export const DJANGO_SESSION_TABLE = "django_session";

/** Options of {@link djangoDatabaseBackend}. */
export interface DjangoDatabaseBackendOptions {
  /**
   * Django's `SECRET_KEY`, or `[SECRET_KEY, ...SECRET_KEY_FALLBACKS]` (newest first): the first
   * signs, every one verifies. Required: the session data is signed with it.
   */
  secret: string | readonly string[];
  /** The database, as `databaseBackend`'s `url`: e.g. `sqlite:<file>` (the file Django's `DATABASES` names). */
  url?: string;
  /** An existing client instead of a URL, as `databaseBackend`'s `client`. Tessera never closes it. */
  client?: unknown;
  /** A connection opened elsewhere: its dialect and a function that connects. */
  connection?: Connection;
  /**
   * Rows `clearExpired` deletes per statement, so a large backlog never holds a long lock.
   * @default 200 on SQLite, 1000 elsewhere
   */
  batchSize?: number;
  /**
   * How many sessions to remember which integral numbers Django wrote as floats (`1.0`), so
   * writing such a session back keeps them floats. 0 turns it off.
   * @default 10000
   */
  floatMemory?: number;
}

/** Per dialect: how a time is written as a parameter and how `expire_date` is read back. */
interface DialectSql {
  /** The time as a statement parameter, in the form Django writes it. */
  toParam(ms: number): string;
  /** A select-list expression giving `expire_date` as text or a number we can read. */
  readonly selectExpiry: string;
  /** `expire_date` as selected, back to milliseconds since the epoch. */
  fromRow(value: unknown): number;
  /** Django's DDL for the table and its index, each safe to run when they exist. */
  readonly ddl: readonly string[];
}

const T = DJANGO_SESSION_TABLE;

const DIALECTS: Record<Dialect, DialectSql> = {
  sqlite: {
    // Django's SQLite backend stores str(naive UTC datetime); comparisons are textual.
    toParam: pythonDatetimeText,
    selectExpiry: "expire_date",
    fromRow: parseUtcText,
    ddl: [
      `CREATE TABLE IF NOT EXISTS "${T}" ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, "expire_date" datetime NOT NULL)`,
      `CREATE INDEX IF NOT EXISTS "${T}_expire_date_a5c62663" ON "${T}" ("expire_date")`,
    ],
  },
  postgres: {
    toParam: (ms) => `${pythonDatetime(ms, "T")}+00:00`,
    // Epoch milliseconds, so the pg client's time-zone handling never matters.
    selectExpiry: "(EXTRACT(EPOCH FROM expire_date) * 1000) AS expire_date",
    fromRow: (value) => Math.round(Number(value)),
    ddl: [
      `CREATE TABLE IF NOT EXISTS "${T}" ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, "expire_date" timestamp with time zone NOT NULL)`,
      `CREATE INDEX IF NOT EXISTS "${T}_expire_date_a5c62663" ON "${T}" ("expire_date")`,
      `CREATE INDEX IF NOT EXISTS "${T}_session_key_c0390e0f_like" ON "${T}" ("session_key" varchar_pattern_ops)`,
    ],
  },
  mysql: {
    // datetime(6) holds naive UTC; text in and out keeps the connection's time zone out of it.
    toParam: pythonDatetimeText,
    selectExpiry: "DATE_FORMAT(expire_date, '%Y-%m-%d %H:%i:%s.%f') AS expire_date",
    fromRow: parseUtcText,
    ddl: [
      `CREATE TABLE IF NOT EXISTS \`${T}\` (\`session_key\` varchar(40) NOT NULL PRIMARY KEY, \`session_data\` longtext NOT NULL, \`expire_date\` datetime(6) NOT NULL, INDEX \`${T}_expire_date_a5c62663\` (\`expire_date\`))`,
    ],
  },
};

/**
 * A {@link ServerBackend} over Django's `django_session` table (see the module comment for the
 * exact format); `databaseBackend({ url, format: "django", secret })` is the same backend. It
 * never creates the table on its own: let Django's `manage.py migrate` create it, or call
 * `migrate()` (`tessera migrate`) where no Django migrations run.
 *
 * @example
 * const sessions = createSessions({
 *   backend: djangoDatabaseBackend({ url: "sqlite:/srv/django/db.sqlite3", secret: process.env.DJANGO_SECRET_KEY! }),
 *   secret: process.env.DJANGO_SECRET_KEY,
 * });
 */
export function djangoDatabaseBackend(options: DjangoDatabaseBackendOptions): ServerBackend & { readonly dialect: Dialect } {
  const settings = djangoFormatSettings(options);
  return djangoTable(settings, options.connection ?? resolveConnection(options, poolSettings({})));
}

/** The Django table format on `connection`, its options already checked. */
export function djangoTable(settings: DjangoFormatSettings, connection: Connection): ServerBackend & { readonly dialect: Dialect } {
  const { secrets, floatMemory } = settings;
  const { dialect } = connection;
  const sql = DIALECTS[dialect];
  const name = `django-${dialect}`;
  const table = sessionTable({
    name,
    table: T,
    keyColumn: "session_key",
    createAdvice:
      "Create it with Django (`python manage.py migrate sessions`), or with `npx tessera migrate` / sessions.migrate() if no Django migrations run on this database.",
    connection,
    batchSize: settings.batchSize,
  });

  // Which integral numbers Django wrote as floats, per session key, so that writing the
  // session back keeps `1.0` a float for Python. Bounded; only sessions that have such numbers.
  const floats = new RecentMap<string, ReadonlyMap<string, number>>(floatMemory);
  const rememberFloats = (key: string, found: ReadonlyMap<string, number>) => {
    if (found.size === 0 || floatMemory === 0) floats.delete(key);
    else floats.put(key, found);
  };

  const encode = (key: string, write: SessionWrite): string => {
    const data = JSON.parse(write.data) as unknown;
    return signPayload(pythonJson(data, floats.get(key)), { secret: secrets[0] as string, salt: SESSION_STORE_SALT, compress: true, now: write.now });
  };

  /** Django's stored value back to the core's JSON; "" (which the core reports as corrupted) if it does not verify. */
  const decode = (key: string, sessionData: string): { data: string; signedAt: number } => {
    try {
      const { json, timestamp } = unsignPayload(sessionData, { secrets, salt: SESSION_STORE_SALT });
      const parsed = parsePythonJson(json);
      rememberFloats(key, parsed.floats);
      return { data: JSON.stringify(parsed.value), signedAt: timestamp * 1000 };
    } catch {
      return { data: "", signedAt: 0 };
    }
  };

  return {
    ...(connection.sqliteFile === undefined ? {} : { sqliteFile: connection.sqliteFile }),
    kind: "server",
    name,
    keepsCreationTime: false, // createdAt is the signature's time, i.e. the last save
    dialect,
    load: (key, now) =>
      table.use(async (d) => {
        const rows = await d.all(`SELECT session_data, ${sql.selectExpiry} FROM ${T} WHERE session_key = ? AND expire_date > ?`, [key, sql.toParam(now)]);
        const row = rows[0];
        return row === undefined ? null : toStored(key, row);
      }),
    async create(key, write) {
      floats.delete(key);
      await table.insert(`INSERT INTO ${T} (session_key, session_data, expire_date) VALUES (?, ?, ?)`, [key, encode(key, write), sql.toParam(write.expiresAt)]);
    },
    // No version column: the expected version is ignored (last writer wins, as in Django).
    async update(key, write) {
      const outcome = await table.update(
        `UPDATE ${T} SET session_data = ?, expire_date = ? WHERE session_key = ?`,
        [encode(key, write), sql.toParam(write.expiresAt), key],
        key,
      );
      // MySQL reports 0 for a row it matched but left unchanged; only a missing row is an error.
      if (outcome === "missing") {
        floats.delete(key);
        throw new UpdateError(); // deleted meanwhile: never resurrect it
      }
    },
    async delete(key) {
      floats.delete(key);
      await table.remove(key);
    },
    exists: (key) => table.exists(key),
    clearExpired: (now) => table.clearExpired("expire_date < ?", sql.toParam(now)),
    migrate: () =>
      // Creates Django's table only where it is missing, and records nothing in Django's
      // django_migrations: see docs/django.md for running Django's migrate afterwards.
      table.use(async (d) => {
        for (const statement of sql.ddl) await d.run(statement, []);
      }),
    async close() {
      floats.clear();
      await table.close();
    },
  };

  function toStored(key: string, row: Row): StoredSession {
    const { data, signedAt } = decode(key, String(row["session_data"]));
    // Django keeps no creation or update time; the signature's timestamp is the last save.
    return { data, expiresAt: sql.fromRow(row["expire_date"]), version: 1, userId: null, createdAt: signedAt, updatedAt: signedAt };
  }
}

/** Python's `str(datetime)` of a naive UTC time: `YYYY-MM-DD HH:MM:SS`, then `.ffffff` unless 0. */
export function pythonDatetimeText(ms: number): string {
  return pythonDatetime(ms, " ");
}

/** Reads `YYYY-MM-DD HH:MM:SS[.f…]` (or a Date a driver made) as UTC milliseconds. */
function parseUtcText(value: unknown): number {
  if (value instanceof Date) return value.getTime();
  const match = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?/.exec(String(value));
  if (match === null) return 0; // unreadable: treat as long expired
  const [, y, mo, d, h, mi, s, f = ""] = match;
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) + Math.floor(Number(f.padEnd(6, "0")) / 1000);
}
