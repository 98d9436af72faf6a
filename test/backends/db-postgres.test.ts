/** `databaseBackend` on a real PostgreSQL server started for this file. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { createSessions, generateKey } from "tessera-sessions";
import { databaseBackend } from "tessera-sessions/backends/db";
import { startPostgres, testPgPool } from "../servers/postgres.js";
import { runSqlServerTests } from "./db-server-shared.js";

const T0 = Date.UTC(2026, 0, 1);
const write = (data: string) => ({ data, expiresAt: T0 + 3_600_000, userId: null, now: T0 });

async function query(url: string, sql: string, params: readonly unknown[] = []): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    let n = 0;
    return (
      await client.query<Record<string, unknown>>(
        sql.replace(/\?/g, () => `$${++n}`),
        [...params],
      )
    ).rows;
  } finally {
    await client.end();
  }
}

const url = runSqlServerTests({
  dialect: "postgres",
  schemeAlias: "postgresql",
  connectTimeoutMessage: /^Connection terminated due to connection timeout$/,
  connectionCountSql: "SELECT COUNT(*)::int AS n FROM pg_stat_activity WHERE application_name = 'tessera'",
  start: () => startPostgres(),
  query,
  existingPool: {
    name: "pg Pool",
    open(serverUrl, size) {
      const { pool, end } = testPgPool({ connectionString: serverUrl, max: size });
      return {
        client: pool,
        dataOf: async (key) => (await pool.query("SELECT data FROM tessera_sessions WHERE key_hash = encode(sha256($1::bytea), 'hex')", [key])).rows,
        expectOpenAndIdle() {
          expect(pool.ended).toBe(false);
          expect(pool.idleCount).toBe(pool.totalCount); // no client was left checked out
        },
        end,
      };
    },
  },
  statementTimeout: {
    verb: "cancel",
    ms: 300,
    async lock(serverUrl) {
      const locker = new pg.Client({ connectionString: serverUrl });
      await locker.connect();
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE tessera_sessions IN ACCESS EXCLUSIVE MODE");
      return {
        async release() {
          await locker.query("ROLLBACK");
          await locker.end();
        },
      };
    },
    blocked: (db, key) => db.load(key, T0),
    expectTimeout(error) {
      expect((error as { code?: string }).code).toBe("57014"); // query_canceled
    },
  },
});

describe("databaseBackend on postgres: connections", () => {
  it("uses an existing connected pg Client (dialect given or detected) and leaves it open", async () => {
    const client = new pg.Client({ connectionString: url() });
    await client.connect();
    try {
      for (const options of [{ client }, { client, dialect: "postgres" as const }]) {
        const sessions = createSessions({ backend: databaseBackend(options), logger: { warn() {}, error() {} } });
        const session = sessions.open();
        await session.set("via", "client");
        await session.save();
        await sessions.migrate();
        expect(await sessions.open(session.sessionKey as string).get("via")).toBe("client");
        await sessions.close();
      }
      expect((await client.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    } finally {
      await client.end();
    }
  });

  it("a test-owned pool is ended only once its connections have closed, so the server's stop cannot reach them", async () => {
    const open = async (pool: pg.Pool) => {
      let removed = 0;
      pool.on("remove", () => void removed++);
      await Promise.all([pool.query("SELECT pg_sleep(0.05)"), pool.query("SELECT pg_sleep(0.05)")]);
      expect(pool.totalCount).toBe(2);
      return () => removed;
    };
    // pg's own end() resolves while its connections are still closing (the old 57P01 flake)...
    const raw = new pg.Pool({ connectionString: url(), max: 2 }); // raw on purpose: the behaviour testPgPool exists for
    raw.on("error", () => {});
    const rawRemoved = await open(raw);
    const rawClosed = new Promise((resolve) => raw.on("remove", () => rawRemoved() === 2 && resolve(undefined)));
    await raw.end();
    expect(rawRemoved()).toBe(0);
    await rawClosed;
    // ...testPgPool's end() waits for them.
    const owned = testPgPool({ connectionString: url(), max: 2 });
    const ownedRemoved = await open(owned.pool);
    await owned.end();
    expect(ownedRemoved()).toBe(2);
  });

  it("every pg Pool a test opens is a testPgPool (a raw one in a test file's afterAll was an unhandled 57P01 in CI)", () => {
    const testDir = fileURLToPath(new URL("..", import.meta.url));
    const raw = readdirSync(testDir, { recursive: true, encoding: "utf8" })
      .filter((file) => file.endsWith(".ts") && file !== join("servers", "postgres.ts"))
      .flatMap((file) =>
        readFileSync(join(testDir, file), "utf8")
          .split("\n")
          .filter((line) => line.includes("new pg.Pool(") && !line.includes("// raw on purpose"))
          .map((line) => `${file}: ${line.trim()}`),
      );
    expect(raw).toEqual([]);
  });

  it("an exhausted pool is a BackendError that says so and how to fix it", async () => {
    const { pool, end } = testPgPool({ connectionString: url(), max: 1, connectionTimeoutMillis: 300 });
    const held = await pool.connect(); // the pool's only connection, busy elsewhere in the app
    try {
      const sessions = createSessions({ backend: databaseBackend({ client: pool }), logger: { warn() {}, error() {} } });
      const error = await sessions
        .open(generateKey())
        .get("x")
        .catch((e: unknown) => e);
      expect((error as Error).message).toBe(
        "[tessera] [postgres] could not load the session: the connection pool is exhausted: all 1 connections stayed busy for 300 ms. Raise poolSize, or look for requests or app code holding connections.",
      );
      expect((error as { status?: number }).status).toBe(503);
    } finally {
      held.release();
      await end();
    }
  });
});
