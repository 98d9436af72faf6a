/**
 * The core loads only what it uses (issue 15): an app on memory or cookie sessions never loads
 * the SQL backend or Django's table format, and the default SQLite backend still works, loading
 * them on first use. Measured by scripts/module-cost.mjs in a child Node process whose module
 * hooks note every file loaded.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createSessions, type SessionBackend } from "tessera-sessions";
import { databaseBackend } from "tessera-sessions/backends/db";
import { djangoDatabaseBackend } from "../src/backends/db/django.js";

const run = promisify(execFile);
const script = fileURLToPath(new URL("../scripts/module-cost.mjs", import.meta.url));

interface Report {
  memoryApp: { modules: number; lines: number; files: { file: string; lines: number }[] };
  sqliteApp: { loaded: string[] };
  cookieApp: { bundledBytes: { oneFile: number; entryChunk: number }; loaded: string[] };
}

describe("what an app loads", () => {
  it("memory sessions load no SQL and no Django code; cookie sessions no SQL; Tessera's SQL table not Django's format; the split bundle leaves the SQL out of the entry", async () => {
    const { stdout } = await run(process.execPath, [script, "--json"], { timeout: 60_000 });
    const report = JSON.parse(stdout) as Report;
    const memoryFiles = report.memoryApp.files.map((m) => m.file);
    expect(memoryFiles).toContain("backends/memory.ts");
    expect(memoryFiles.filter((file) => /^backends\/db\/|^backends\/django|^django\//.test(file))).toEqual([]);
    expect(report.memoryApp.modules).toBe(memoryFiles.length);
    expect(report.cookieApp.loaded).toContain("backends/signed-cookies.ts");
    expect(report.cookieApp.loaded.filter((file) => /^backends\/db\/|^backends\/django-db/.test(file))).toEqual([]);
    expect(report.sqliteApp.loaded).toContain("backends/db/sqlite.ts");
    expect(report.sqliteApp.loaded.filter((file) => /^backends\/db\/django|^backends\/django|^django\//.test(file))).toEqual([]);
    // The SQL code is reachable only through the default backend's dynamic import: its own chunk.
    expect(report.cookieApp.bundledBytes.entryChunk).toBeLessThan(report.cookieApp.bundledBytes.oneFile * 0.6);
  }, 90_000);

  it("a backend that loads on first use offers exactly the methods and flags of the one it stands for", () => {
    const shape = (backend: SessionBackend) =>
      Object.fromEntries(Object.entries(backend).map(([name, value]) => [name, typeof value === "function" ? "method" : value]));
    expect(shape(createSessions({}).options.backend)).toEqual(shape(databaseBackend({ url: "sqlite:sessions.sqlite3" })));
    const secret = "django-insecure-0123456789abcdef0123456789";
    expect(shape(databaseBackend({ url: "sqlite::memory:", format: "django", secret }))).toEqual(
      shape(djangoDatabaseBackend({ url: "sqlite::memory:", secret })),
    );
  });

  it("the default backend loads SQLite on first use and keeps its name, dialect and methods from the start", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-default-"));
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const sessions = createSessions({ cookie: { secure: false } });
      const backend = sessions.options.backend;
      expect(backend).toMatchObject({ kind: "server", name: "sqlite", dialect: "sqlite", sqliteFile: join(realpathSync(dir), "sessions.sqlite3") });
      expect(typeof (backend as { listSessions?: unknown }).listSessions).toBe("function");
      expect(existsSync(join(dir, "sessions.sqlite3"))).toBe(false); // nothing opened yet
      const session = sessions.open();
      await session.set("n", 1);
      await sessions.commit(session, 200);
      expect(existsSync(join(dir, "sessions.sqlite3"))).toBe(true);
      expect(await sessions.open(session.sessionKey as string).get("n")).toBe(1);
      await sessions.close();
    } finally {
      process.chdir(cwd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
