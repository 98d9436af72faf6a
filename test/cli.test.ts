/**
 * The `tessera` CLI as users run it: the built `dist/cli/main.js` in a child process, on real
 * SQLite files, with config modules that import "tessera-sessions" from node_modules.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createSessions, hashKey } from "tessera-sessions";
import { databaseBackend, schemaSql } from "tessera-sessions/backends/db";

// Each test starts several Node processes: on a busy machine (CI, or several suites at once)
// that takes far longer than the default budget.
vi.setConfig({ testTimeout: 90_000, hookTimeout: 300_000 });

const repo = fileURLToPath(new URL("..", import.meta.url));
const cliPath = join(repo, "dist", "cli", "main.js");
const MISSING_CONFIG =
  "tessera: no session store configured: pass --config <file> (a module exporting your createSessions(...) result or its options), " +
  "or set TESSERA_DATABASE_URL (e.g. TESSERA_DATABASE_URL=sqlite:sessions.sqlite3).\n";

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

let work: string;

/** Runs the CLI in `work`, with TESSERA_DATABASE_URL only when given. */
function tessera(args: string[], databaseUrl?: string): Promise<Result> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env["TESSERA_DATABASE_URL"];
  if (databaseUrl !== undefined) env["TESSERA_DATABASE_URL"] = databaseUrl;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { cwd: work, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function tableNames(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((row) => row.name);
  } finally {
    db.close();
  }
}

function storedHashes(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare("SELECT key_hash FROM tessera_sessions ORDER BY key_hash").all() as { key_hash: string }[]).map((row) => row.key_hash);
  } finally {
    db.close();
  }
}

/** Saves one session per entry of `ages` through the public API, each expiring `age` seconds from now. */
async function seedSessions(file: string, ages: number[]): Promise<string[]> {
  const keys: string[] = [];
  for (const age of ages) {
    // Each session is written "age + 60 seconds ago" with a 60-second lifetime (negative age: already expired).
    const writtenAt = Date.now() + age * 1000 - 60_000;
    const sessions = createSessions({ backend: databaseBackend({ url: `sqlite:${file}` }), clock: () => writtenAt, cookie: { maxAge: 60 } });
    const session = sessions.open();
    await session.set("n", age);
    await session.save();
    keys.push(session.sessionKey ?? "");
    await sessions.close();
  }
  return keys;
}

beforeAll(() => {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: the suite's globalSetup (test/build-dist.ts) builds it`);
});

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), "tessera-cli-"));
  // A config module imports "tessera-sessions" as a user's would: from its project's node_modules.
  mkdirSync(join(work, "node_modules"));
  symlinkSync(repo, join(work, "node_modules", "tessera-sessions"), "dir");
  return () => rmSync(work, { recursive: true, force: true });
});

describe("tessera migrate", () => {
  it("creates the session table and the migration ledger, and is idempotent", async () => {
    const file = join(work, "app.sqlite3");
    const first = await tessera(["migrate"], `sqlite:${file}`);
    expect(first).toEqual({ code: 0, stdout: "The sqlite session store is up to date.\n", stderr: "" });
    expect(tableNames(file)).toEqual(["tessera_migrations", "tessera_sessions"]);

    const again = await tessera(["migrate"], `sqlite:${file}`);
    expect(again).toEqual({ code: 0, stdout: "The sqlite session store is up to date.\n", stderr: "" });
    const db = new Database(file, { readonly: true });
    expect(db.prepare("SELECT version, name FROM tessera_migrations").all()).toEqual([
      { version: 1, name: "create sessions table" },
      { version: 2, name: "index sessions by creation" },
    ]);
    db.close();
  });
});

describe("tessera clearsessions", () => {
  it("deletes exactly the expired sessions and prints how many", async () => {
    const file = join(work, "app.sqlite3");
    const [expiredA, expiredB, liveA, expiredC, liveB] = await seedSessions(file, [-3600, -120, 3600, -30, 86_400]);
    expect(storedHashes(file)).toHaveLength(5);

    const result = await tessera(["clearsessions"], `sqlite:${file}`);
    expect(result).toEqual({ code: 0, stdout: "Deleted 3 expired sessions.\n", stderr: "" });
    expect(storedHashes(file)).toEqual([hashKey(liveA ?? ""), hashKey(liveB ?? "")].sort());
    expect([expiredA, expiredB, expiredC].map((key) => storedHashes(file).includes(hashKey(key ?? "")))).toEqual([false, false, false]);

    expect(await tessera(["clearsessions"], `sqlite:${file}`)).toEqual({ code: 0, stdout: "Deleted 0 expired sessions.\n", stderr: "" });
  });

  it("refuses a SQLite file that does not exist instead of creating an empty one; migrate may create it", async () => {
    const file = join(work, "typo.sqlite3");
    expect(await tessera(["clearsessions"], `sqlite:${file}`)).toEqual({
      code: 2,
      stdout: "",
      stderr: `tessera: the SQLite database ${file} (from TESSERA_DATABASE_URL) does not exist: check the path, or create it with "tessera migrate".\n`,
    });
    expect(existsSync(file)).toBe(false);
    expect(await tessera(["migrate"], "sqlite:typo.sqlite3")).toEqual({ code: 0, stdout: "The sqlite session store is up to date.\n", stderr: "" });
    expect(await tessera(["clearsessions"], "sqlite:typo.sqlite3")).toEqual({ code: 0, stdout: "Deleted 0 expired sessions.\n", stderr: "" });
  });

  it("refuses a missing SQLite file named in a --config module too, plain or under cached-db (issue 13, item 15)", async () => {
    writeFileSync(
      join(work, "typo.config.mjs"),
      `import { databaseBackend } from "tessera-sessions/backends/db";\nexport default { backend: databaseBackend({ url: "sqlite:typo.sqlite3" }) };\n`,
    );
    writeFileSync(
      join(work, "cached.config.mjs"),
      `import { databaseBackend } from "tessera-sessions/backends/db";\nimport { cacheBackend } from "tessera-sessions/backends/cache";\n` +
        `import { cachedDatabaseBackend } from "tessera-sessions/backends/cached-db";\n` +
        `export default { backend: cachedDatabaseBackend({ database: databaseBackend({ url: "sqlite:typo.sqlite3" }), cache: cacheBackend({ url: "memory:" }) }) };\n`,
    );
    const file = join(work, "typo.sqlite3");
    for (const config of ["typo.config.mjs", "cached.config.mjs"]) {
      expect(await tessera(["clearsessions", "--config", config])).toEqual({
        code: 2,
        stdout: "",
        stderr: `tessera: the SQLite database ${file} (from --config ${config}) does not exist: check the path, or create it with "tessera migrate".\n`,
      });
    }
    expect(existsSync(file)).toBe(false);
    expect((await tessera(["migrate", "--config", "typo.config.mjs"])).code).toBe(0);
    expect(await tessera(["clearsessions", "--config", "cached.config.mjs"])).toEqual({ code: 0, stdout: "Deleted 0 expired sessions.\n", stderr: "" });
  });

  it("says 'session' for one", async () => {
    const file = join(work, "app.sqlite3");
    await seedSessions(file, [-10, 600]);
    expect(await tessera(["clearsessions"], `sqlite:${file}`)).toEqual({ code: 0, stdout: "Deleted 1 expired session.\n", stderr: "" });
    expect(storedHashes(file)).toHaveLength(1);
  });
});

describe("configuration", () => {
  it("exits 2 and says how to configure a store when there is none", async () => {
    expect(await tessera(["migrate"])).toEqual({ code: 2, stdout: "", stderr: MISSING_CONFIG });
    expect(await tessera(["clearsessions"])).toEqual({ code: 2, stdout: "", stderr: MISSING_CONFIG });
    expect(await tessera(["clearsessions"], "")).toEqual({ code: 2, stdout: "", stderr: MISSING_CONFIG });
  });

  it("uses a config module's default export of options", async () => {
    writeFileSync(
      join(work, "tessera.config.js"),
      `import { databaseBackend } from "tessera-sessions/backends/db";\nexport default { backend: databaseBackend({ url: "sqlite:from-options.sqlite3" }) };\n`,
    );
    const result = await tessera(["migrate", "--config", "tessera.config.js"]);
    expect(result).toEqual({ code: 0, stdout: "The sqlite session store is up to date.\n", stderr: "" });
    expect(tableNames(join(work, "from-options.sqlite3"))).toEqual(["tessera_migrations", "tessera_sessions"]);
  });

  it("uses a config module's `sessions` export (what createSessions returns), ahead of the env var", async () => {
    const file = join(work, "app.sqlite3");
    await seedSessions(file, [-5, -6, 60]);
    writeFileSync(
      join(work, "sessions.mjs"),
      `import { createSessions } from "tessera-sessions";\nimport { databaseBackend } from "tessera-sessions/backends/db";\n` +
        `export const sessions = createSessions({ backend: databaseBackend({ url: ${JSON.stringify(`sqlite:${file}`)} }) });\n`,
    );
    const elsewhere = join(work, "other.sqlite3");
    const result = await tessera(["clearsessions", "-c", join(work, "sessions.mjs")], `sqlite:${elsewhere}`);
    expect(result).toEqual({ code: 0, stdout: "Deleted 2 expired sessions.\n", stderr: "" });
    expect(storedHashes(file)).toHaveLength(1);
    expect(existsSync(elsewhere)).toBe(false);
  });

  it("says there is nothing to do for a store that keeps no server-side records", async () => {
    writeFileSync(
      join(work, "cookies.mjs"),
      `import { signedCookieBackend } from "tessera-sessions/backends/signed-cookies";\n` +
        `export default { backend: signedCookieBackend(), secret: "a-test-secret-of-at-least-32-bytes!" };\n`,
    );
    expect(await tessera(["clearsessions", "--config", "cookies.mjs"])).toEqual({
      code: 0,
      stdout: "The signed-cookies backend expires sessions on its own. Nothing to delete.\n",
      stderr: "",
    });
    expect(await tessera(["migrate", "--config", "cookies.mjs"])).toEqual({
      code: 0,
      stdout: "The signed-cookies backend needs no schema. Nothing to migrate.\n",
      stderr: "",
    });
  });

  it("reports a config file that is missing, a directory, broken or exports the wrong thing, with exit 2 like a missing config", async () => {
    expect(await tessera(["migrate", "--config", "nope.js"])).toEqual({
      code: 2,
      stdout: "",
      stderr: `tessera: config file ${join(work, "nope.js")} does not exist.\n`,
    });
    expect(await tessera(["clearsessions", "--config", "."])).toEqual({
      code: 2,
      stdout: "",
      stderr: `tessera: config file ${work} is a directory; pass the module inside it, e.g. --config ${join(work, "tessera.config.js")}.\n`,
    });

    writeFileSync(join(work, "wrong.mjs"), "export const other = 1;\n");
    const wrong = await tessera(["migrate", "--config", "wrong.mjs"]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toBe(
      `tessera: config file ${join(work, "wrong.mjs")} must export (as default, or as \`sessions\`) the object createSessions() returns, or its options, ` +
        `e.g. export default { backend: databaseBackend({ url: "sqlite:sessions.sqlite3" }) }.\n`,
    );

    writeFileSync(join(work, "throws.mjs"), 'throw new Error("no database password in the environment");\n');
    expect(await tessera(["migrate", "--config", "throws.mjs"])).toEqual({
      code: 2,
      stdout: "",
      stderr: `tessera: could not load config file ${join(work, "throws.mjs")}: no database password in the environment\n`,
    });
  });
});

describe("errors", () => {
  it("prints one line and exits 2 for a configuration mistake, with the stack only under --verbose", async () => {
    // The wording after the prefix is the backend's; the CLI owns the one-line shape.
    const oneLine = /^tessera: databaseBackend does not know the URL scheme of "oracle:\/\/db\/app": [^\n]+\n$/;
    const quiet = await tessera(["migrate"], "oracle://db/app");
    expect(quiet.code).toBe(2);
    expect(quiet.stdout).toBe("");
    expect(quiet.stderr).toMatch(oneLine);

    const verbose = await tessera(["migrate", "--verbose"], "oracle://db/app");
    expect(verbose.code).toBe(2);
    expect(verbose.stderr.startsWith(`${quiet.stderr}ConfigurationError: [tessera] databaseBackend does not know`)).toBe(true);
    expect(verbose.stderr).toMatch(/\n {4}at resolveConnection \(/);
  });

  it("reports a store that cannot be opened once, not again when closing it", async () => {
    const result = await tessera(["migrate"], "sqlite:no-such-directory/sessions.sqlite3");
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^tessera: [^\n]*directory does not exist[^\n]*\n$/);
  });

  it("exits 2 on a command or option it does not know", async () => {
    expect(await tessera(["migrat"])).toEqual({
      code: 2,
      stdout: "",
      stderr: 'tessera: unknown command "migrat" (commands: migrate, clearsessions, sql, sessions). Run "tessera --help" for usage.\n',
    });
    expect(await tessera(["migrate", "--force"])).toEqual({
      code: 2,
      stdout: "",
      stderr: 'tessera: unknown option --force. Run "tessera --help" for usage.\n',
    });
    // `sessions` words option mistakes the same way.
    expect(await tessera(["sessions", "list", "--force"])).toEqual({
      code: 2,
      stdout: "",
      stderr: 'tessera: unknown option --force. Run "tessera sessions --help" for usage.\n',
    });
    expect(await tessera(["migrate", "now"])).toEqual({
      code: 2,
      stdout: "",
      stderr: 'tessera: migrate takes no arguments; unexpected "now". Run "tessera --help" for usage.\n',
    });
    expect(await tessera([])).toEqual({ code: 2, stdout: "", stderr: 'tessera: missing command. Run "tessera --help" for usage.\n' });
  });
});

describe("help", () => {
  it("lists the commands with --help, -h and `help`", async () => {
    const result = await tessera(["--help"]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe("");
    expect(result.stdout.split("\n").slice(0, 8)).toEqual([
      "Usage: tessera <command> [options]",
      "",
      "Commands:",
      "  migrate        Create or upgrade the session table (safe to run on every deploy).",
      "  clearsessions  Delete expired sessions (run it from cron, e.g. daily).",
      "  sql            Print the schema as SQL, for teams that keep their own migrations.",
      '  sessions       List, show and delete sessions, or end a user\'s (see "tessera sessions --help").',
      "",
    ]);
    expect(result.stdout).toContain("  -c, --config <file>  ");
    expect(result.stdout).toContain("TESSERA_DATABASE_URL");
    expect(await tessera(["-h"])).toEqual(result);
    expect(await tessera(["help"])).toEqual(result);
  });

  it("explains each command with `<command> --help`, without needing a store", async () => {
    const migrate = await tessera(["migrate", "--help"]);
    expect(migrate.code).toBe(0);
    expect(migrate.stdout.split("\n").slice(0, 3)).toEqual([
      "Usage: tessera migrate [--config <file>]",
      "",
      "Create or upgrade the session table (safe to run on every deploy).",
    ]);

    const clear = await tessera(["clearsessions", "--help"]);
    expect(clear.stdout.split("\n").slice(0, 3)).toEqual([
      "Usage: tessera clearsessions [--config <file>]",
      "",
      "Delete expired sessions (run it from cron, e.g. daily).",
    ]);
    expect(await tessera(["help", "clearsessions"])).toEqual(clear);

    const sql = await tessera(["sql", "--help"]);
    expect(sql.stdout.split("\n").slice(0, 3)).toEqual([
      "Usage: tessera sql <sqlite|postgres|mysql>",
      "",
      "Print the schema as SQL, for teams that keep their own migrations.",
    ]);
    expect(sql.stdout).not.toContain("--config");
  });

  it("prints the package version", async () => {
    expect(await tessera(["--version"])).toEqual({ code: 0, stdout: "0.1.0\n", stderr: "" });
  });
});

describe("tessera sql", () => {
  it("prints each dialect's schema, needing no configuration", async () => {
    for (const dialect of ["sqlite", "postgres", "mysql"] as const) {
      expect(await tessera(["sql", dialect])).toEqual({ code: 0, stdout: schemaSql(dialect), stderr: "" });
    }
    expect((await tessera(["sql", "postgresql"])).stdout).toBe(schemaSql("postgres"));
  });

  it("prints SQLite DDL that builds the same tables as migrate", async () => {
    const { stdout } = await tessera(["sql", "sqlite"]);
    expect(stdout.split("\n").slice(0, 3)).toEqual([
      "-- 1: create sessions table",
      "CREATE TABLE IF NOT EXISTS tessera_sessions (",
      "  key_hash TEXT PRIMARY KEY NOT NULL,",
    ]);
    expect(stdout).toContain("\n  user_id TEXT NULL\n);\n");
    const file = join(work, "by-hand.sqlite3");
    const db = new Database(file);
    db.exec(stdout);
    db.close();
    expect(tableNames(file)).toEqual(["tessera_sessions"]);
    // The sessions written by the library fit the table built from the printed DDL.
    expect(await seedSessions(file, [60])).toHaveLength(1);
    expect(storedHashes(file)).toHaveLength(1);
  });

  it("rejects a dialect it does not know, and a missing one", async () => {
    expect(await tessera(["sql", "oracle"])).toEqual({
      code: 2,
      stdout: "",
      stderr: 'tessera: unknown SQL dialect "oracle" (choose sqlite, postgres or mysql). Run "tessera --help" for usage.\n',
    });
    expect(await tessera(["sql"])).toEqual({ code: 2, stdout: "", stderr: 'tessera: sql needs <sqlite|postgres|mysql>. Run "tessera --help" for usage.\n' });
  });
});

describe("tessera sessions", () => {
  it("lists and deletes the configured store's sessions, by id, with --json for scripts", async () => {
    const file = join(work, "app.sqlite3");
    const [live, dead] = await seedSessions(file, [600, -600]);
    const url = `sqlite:${file}`;
    const listed = await tessera(["sessions", "list", "--json"], url);
    expect([listed.code, listed.stderr]).toEqual([0, ""]);
    const page = JSON.parse(listed.stdout) as { sessions: { id: string; active: boolean }[]; next: string | null };
    expect(page.sessions.map((s) => [s.id, s.active])).toEqual([
      [hashKey(live ?? ""), true],
      [hashKey(dead ?? ""), false],
    ]);
    expect(page.next).toBeNull();
    expect(await tessera(["sessions", "delete", hashKey(live ?? "")], url)).toEqual({ code: 0, stdout: "Deleted 1 session.\n", stderr: "" });
    expect(storedHashes(file)).toEqual([hashKey(dead ?? "")]);
    expect(await tessera(["sessions", "bogus"], url)).toEqual({
      code: 2,
      stdout: "",
      stderr: 'tessera: unknown sessions command "bogus" (commands: list, show, delete, clear-user). Run "tessera sessions --help" for usage.\n',
    });
  });
});
