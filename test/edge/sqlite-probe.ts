/**
 * Run (bundled by esbuild) under another runtime by sqlite-drivers.test.ts: the backend
 * conformance suite on a SQLite file, with better-sqlite3 out of reach (the bundle lives in a
 * directory with no node_modules), so the backend picks node:sqlite or bun:sqlite. Then one
 * session saved through createSessions into final.sqlite3. Prints a JSON report on stdout.
 * Usage: <runtime> sqlite-probe.mjs <directory>
 */
import { createSessions } from "tessera-sessions";
import { databaseBackend } from "tessera-sessions/backends/db";
import { runBackendSuite } from "tessera-sessions/testing";

const dir = process.argv[2] as string;
const tests: { name: string; body: () => Promise<void> }[] = [];
let files = 0;
runBackendSuite({
  name: "sqlite file",
  create: () => databaseBackend({ url: `sqlite:${dir}/suite-${files++}.sqlite3` }),
  userIndex: true,
  listing: true,
  describe: (_name, body) => body(),
  it: Object.assign((name: string, body: () => Promise<void>) => tests.push({ name, body }), { skip: () => {} }),
});

const failed: { name: string; error: string }[] = [];
for (const test of tests) {
  try {
    await test.body();
  } catch (error) {
    failed.push({ name: test.name, error: String((error as Error).stack ?? error) });
  }
}

const sessions = createSessions({ backend: databaseBackend({ url: `sqlite:${dir}/final.sqlite3` }), secret: "probe-secret-0123456789abcdef0123456789" });
const session = sessions.open();
await session.set("runtime", typeof (globalThis as { Bun?: unknown }).Bun === "undefined" ? `node ${process.versions.node}` : "bun");
await sessions.commit(session, 200);
const reread = await createSessions({ backend: databaseBackend({ url: `sqlite:${dir}/final.sqlite3` }), secret: "probe-secret-0123456789abcdef0123456789" })
  .open(session.sessionKey)
  .get("runtime");
await sessions.close();

let betterSqlite3 = "absent";
try {
  await import(["better", "sqlite3"].join("-"));
  betterSqlite3 = "present";
} catch {}

console.log(JSON.stringify({ passed: tests.length - failed.length, failed, key: session.sessionKey, reread, betterSqlite3 }));
