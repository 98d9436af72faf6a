/**
 * The admin listing on a large SQLite table: keyset pages walk the (created_at, key_hash) index
 * (no sort, no OFFSET), and following the cursors visits every row once, in order.
 */
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServerBackend } from "tessera-sessions";
import { databaseBackend } from "tessera-sessions/backends/db";

const ROWS = 200_000;
const T0 = Date.UTC(2026, 0, 1);

describe("listSessions on 200 000 SQLite rows", () => {
  const db = new Database(":memory:");
  const statements: string[] = [];
  // Records every statement the backend prepares, so the test can ask SQLite for its plan.
  const client = new Proxy(db, {
    get(target, property) {
      if (property === "prepare") return (sql: string) => (statements.push(sql), target.prepare(sql));
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  let backend: ServerBackend;

  beforeAll(async () => {
    backend = databaseBackend({ client });
    await backend.migrate?.();
    const insert = db.prepare(
      "INSERT INTO tessera_sessions (key_hash, data, created_at, updated_at, expires_at, version, user_id) VALUES (?, '{}', ?, ?, ?, 1, ?)",
    );
    db.transaction(() => {
      for (let i = 0; i < ROWS; i++) {
        // Ten rows share each creation time, so ties are broken by id across page boundaries.
        const createdAt = T0 + Math.floor(i / 10);
        insert.run(i.toString(16).padStart(64, "0"), createdAt, createdAt, i % 3 === 0 ? T0 - 1 : T0 + 10 * ROWS, `u${i % 500}`);
      }
    })();
  });
  afterAll(() => db.close());

  it("every page is an index range scan: no temporary sort, whatever the filters", async () => {
    const first = await backend.listSessions?.({ limit: 50, state: "all", now: T0 });
    await backend.listSessions?.({ limit: 50, state: "active", now: T0, after: first?.next as string });
    const listing = statements.filter((sql) => sql.includes("ORDER BY created_at DESC, key_hash DESC"));
    expect(listing).toHaveLength(2);
    const plan = (sql: string, params: unknown[]) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((row) => row.detail);
    expect(plan(listing[0] as string, [])).toEqual(["SCAN tessera_sessions USING INDEX tessera_sessions_created_at"]);
    expect(plan(listing[1] as string, [T0, T0, "f", T0])).toEqual(["SEARCH tessera_sessions USING INDEX tessera_sessions_created_at (created_at<?)"]);
  });

  it("following the cursors visits every row once, newest first", async () => {
    let after: string | undefined;
    let previous: { createdAt: number; id: string } | undefined;
    let seen = 0;
    let pages = 0;
    do {
      const page = await backend.listSessions?.({ limit: 1000, state: "all", now: T0, ...(after !== undefined ? { after } : {}) });
      for (const s of page?.sessions ?? []) {
        if (previous) expect(previous.createdAt > s.createdAt || (previous.createdAt === s.createdAt && previous.id > s.id)).toBe(true);
        previous = s;
        seen++;
      }
      after = page?.next;
      pages++;
    } while (after !== undefined);
    expect([seen, pages]).toEqual([ROWS, ROWS / 1000]);
  });
});
