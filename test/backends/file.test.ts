import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { execFile } from "node:child_process";
import { tmpdir } from "node:os";
import { promisify } from "node:util";
import ts from "typescript";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigurationError, CreateError, UpdateError, VersionConflictError, createSessions, generateKey, hashKey, type SessionWrite } from "tessera-sessions";
import { fileBackend } from "tessera-sessions/backends/file";
import { runBackendSuite } from "tessera-sessions/testing";
import { runConcurrencySuite } from "../hardening/concurrency.suite.js";
import { recordingLogger } from "../helpers.js";

const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;
const write = (data: string, overrides: Partial<SessionWrite> = {}): SessionWrite => ({ data, expiresAt: T0 + HOUR, userId: null, now: T0, ...overrides });

const suiteDirs: string[] = [];
runBackendSuite({
  name: "file",
  userIndex: true,
  listing: true,
  create: () => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-file-suite-"));
    suiteDirs.push(dir);
    return fileBackend({ directory: dir });
  },
  cleanup: async () => rmSync(suiteDirs.pop() as string, { recursive: true, force: true }),
  describe,
  it,
});

// 50 concurrent HTTP writers on one session (Express, real sockets): no lost update, no resurrection.
runConcurrencySuite({
  name: "file",
  create: async () => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-file-concurrency-"));
    return { backend: fileBackend({ directory: dir }), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  },
});

describe("fileBackend", () => {
  let root: string; // holds the session directory and a sibling that must never be touched
  let dir: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "tessera-file-"));
    dir = join(root, "sessions");
    mkdirSync(dir);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("refuses a missing directory at construction, saying to create it", () => {
    const missing = join(root, "nope");
    expect(() => fileBackend({ directory: missing })).toThrow(ConfigurationError);
    expect(() => fileBackend({ directory: missing })).toThrow(
      `The session directory ${JSON.stringify(missing)} does not exist or is not a directory. Create it first (for example: mkdir -p ${JSON.stringify(missing)})`,
    );
    writeFileSync(join(root, "a-file"), "");
    expect(() => fileBackend({ directory: join(root, "a-file") })).toThrow(ConfigurationError);
    expect(() => fileBackend({ directory: "" })).toThrow(ConfigurationError);
  });

  it("names each file after the key's SHA-256, and the key appears in no name and no content", async () => {
    const backend = fileBackend({ directory: dir });
    const key = generateKey();
    await backend.create(key, write('{"user":"jane"}', { userId: "u1" }));
    expect(readdirSync(dir)).toEqual([`${hashKey(key)}.session`]);
    const content = readFileSync(join(dir, `${hashKey(key)}.session`), "utf8");
    expect(content).not.toContain(key);
    expect(JSON.parse(content)).toEqual({ data: '{"user":"jane"}', expiresAt: T0 + HOUR, version: 1, userId: "u1", createdAt: T0, updatedAt: T0 });
    expect(statSync(join(dir, `${hashKey(key)}.session`)).mode & 0o777).toBe(0o600);
  });

  it("a traversal-looking key stays inside the directory", async () => {
    const backend = fileBackend({ directory: dir });
    writeFileSync(join(root, "victim.session"), "keep me");
    for (const key of ["../victim", "../../etc/passwd", "/tmp/x", "..\\..\\victim", "a/../../victim", "\u0000x"]) {
      expect(await backend.load(key, T0)).toBe(null);
      await backend.create(key, write("{}"));
      await backend.update(key, write('{"n":2}'), 1);
      expect(await backend.exists(key)).toBe(true);
      expect(existsSync(join(dir, `${hashKey(key)}.session`))).toBe(true);
      await backend.delete(key);
    }
    // deleteById takes an id that came from outside; only a 64-hex hash may name a file.
    for (const id of ["../victim", "../victim.session", `${"a".repeat(64)}/../../victim`, "a".repeat(63), "A".repeat(64)]) await backend.deleteById(id);
    await backend.deleteById("a".repeat(64)); // a well-formed id with no file is fine
    expect(readdirSync(root).sort()).toEqual(["sessions", "victim.session"]);
    expect(readFileSync(join(root, "victim.session"), "utf8")).toBe("keep me");
    expect(readdirSync(dir)).toEqual([]);
  });

  it("writes through a temp file and rename: no partial or temp file is ever left", async () => {
    const backend = fileBackend({ directory: dir });
    const key = generateKey();
    const path = join(dir, `${hashKey(key)}.session`);
    await backend.create(key, write('{"v":0}'));
    const big = JSON.stringify({ blob: "x".repeat(200_000) });
    // Readers racing the writers only ever see a whole record.
    const reads: Promise<unknown>[] = [];
    for (let v = 1; v <= 20; v++) {
      await backend.update(key, write(v % 2 ? big : `{"v":${v}}`), v);
      reads.push(backend.load(key, T0).then((r) => expect(r === null ? "" : r.data).toMatch(/^\{"(v|blob)"/)));
    }
    await Promise.all(reads);
    expect(readdirSync(dir)).toEqual([`${hashKey(key)}.session`]);
    expect(JSON.parse(readFileSync(path, "utf8")).version).toBe(21);
  });

  it("a failed write leaves no temp file and no half-created record", async () => {
    // A directory path so long that "<hash>.session" fits under PATH_MAX (4095) but the longer
    // "<hash>.<random>.tmp" does not: the placeholder and the lock succeed, the temp file fails.
    let deep = root;
    while (deep.length < 4018 - 201) deep = join(deep, "d".repeat(200));
    deep = join(deep, "e".repeat(4018 - deep.length - 1));
    mkdirSync(deep, { recursive: true });
    expect(deep.length).toBe(4018);
    const backend = fileBackend({ directory: deep });
    const key = generateKey();
    await expect(backend.create(key, write("{}"))).rejects.toMatchObject({ code: "ENAMETOOLONG" });
    expect(readdirSync(deep)).toEqual([]);
    expect(await backend.exists(key)).toBe(false);
    const record = JSON.stringify({ data: '{"keep":1}', expiresAt: T0 + HOUR, version: 1, userId: null, createdAt: T0, updatedAt: T0 });
    writeFileSync(join(deep, `${hashKey(key)}.session`), record);
    await expect(backend.update(key, write('{"lost":1}'), 1)).rejects.toMatchObject({ code: "ENAMETOOLONG" });
    expect(readdirSync(deep)).toEqual([`${hashKey(key)}.session`]);
    expect((await backend.load(key, T0))?.data).toBe('{"keep":1}');
  });

  it("a write failing after its temp file was opened removes the temp file (and a create's placeholder)", async () => {
    const backend = fileBackend({ directory: dir });
    const key = generateKey();
    // A BigInt cannot be serialized: the failure comes after the temp file exists.
    const unserializable = write("{}", { userId: 1n as unknown as string });
    await expect(backend.create(key, unserializable)).rejects.toBeInstanceOf(TypeError);
    expect(readdirSync(dir)).toEqual([]);
    await backend.create(key, write('{"keep":1}'));
    await expect(backend.update(key, unserializable, 1)).rejects.toBeInstanceOf(TypeError);
    expect(readdirSync(dir)).toEqual([`${hashKey(key)}.session`]);
    expect((await backend.load(key, T0))?.data).toBe('{"keep":1}');
  });

  it("create is O_EXCL: a collision is CreateError, also against an unfinished create", async () => {
    const backend = fileBackend({ directory: dir });
    const key = generateKey();
    writeFileSync(join(dir, `${hashKey(key)}.session`), ""); // another process's placeholder
    await expect(backend.create(key, write("{}"))).rejects.toBeInstanceOf(CreateError);
    expect(await backend.exists(key)).toBe(true);
    expect(await backend.load(key, T0)).toBe(null);
    await expect(backend.update(key, write("{}"), 1)).rejects.toBeInstanceOf(UpdateError);
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => backend.create("samekey1", write("{}"))));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(CreateError);
  });

  it("concurrent updates on one version: exactly one wins, the others conflict", async () => {
    const backend = fileBackend({ directory: dir });
    const other = fileBackend({ directory: dir }); // a second instance stands in for another process
    const key = generateKey();
    await backend.create(key, write("{}"));
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => (i % 2 ? other : backend).update(key, write(`{"i":${i}}`), 1)));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(VersionConflictError);
    expect((await backend.load(key, T0))?.version).toBe(2);
    expect(readdirSync(dir)).toEqual([`${hashKey(key)}.session`]);
  });

  it("breaks a lock file left by a crashed process, and waits for a live one", async () => {
    const backend = fileBackend({ directory: dir });
    const key = generateKey();
    await backend.create(key, write("{}"));
    const lock = join(dir, `${hashKey(key)}.lock`);
    writeFileSync(lock, "");
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    await backend.update(key, write('{"n":2}'), 1);
    expect(existsSync(lock)).toBe(false);
    writeFileSync(lock, ""); // fresh: held by someone
    let done = false;
    const pending = backend.update(key, write('{"n":3}'), 2).then(() => void (done = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(done).toBe(false);
    rmSync(lock);
    await pending;
    expect((await backend.load(key, T0))?.data).toBe('{"n":3}');
  });

  it("malformed files load as missing and never crash", async () => {
    const backend = fileBackend({ directory: dir });
    const bad = [
      "not json",
      "[]",
      "null",
      '{"data":1}',
      JSON.stringify({ data: "{}", expiresAt: "soon", version: 1, userId: null, createdAt: 0, updatedAt: 0 }),
      JSON.stringify({ data: "{}", expiresAt: T0 + HOUR, version: 0, userId: null, createdAt: 0, updatedAt: 0 }),
      "\u0000\u0001",
    ];
    for (const content of bad) {
      const key = generateKey();
      writeFileSync(join(dir, `${hashKey(key)}.session`), content);
      expect(await backend.load(key, T0)).toBe(null);
      await expect(backend.update(key, write("{}"), 1)).rejects.toBeInstanceOf(UpdateError);
    }
    const dirKey = generateKey();
    mkdirSync(join(dir, `${hashKey(dirKey)}.session`));
    expect(await backend.load(dirKey, T0)).toBe(null);
  });

  it("a well-formed record with corrupt data reaches the core, which warns and starts empty", async () => {
    const backend = fileBackend({ directory: dir });
    const key = generateKey();
    await backend.create(key, write("{not json"));
    const logger = recordingLogger();
    const sessions = createSessions({ backend, clock: () => T0, logger });
    const session = sessions.open(key);
    expect(await session.keys()).toEqual([]);
    expect(logger.warnings).toEqual(["[tessera] Session data corrupted: a stored file session did not decode; the request gets an empty session."]);
  });

  it("clearExpired deletes expired and corrupt records and crash debris, counts the records, and leaves other files", async () => {
    const backend = fileBackend({ directory: dir });
    for (let i = 0; i < 3; i++) await backend.create(generateKey(), write("{}", { expiresAt: T0 + 10 }));
    const live = generateKey();
    await backend.create(live, write("{}"));
    const id = "a".repeat(64);
    const old = new Date(Date.now() - 120_000);
    const put = (name: string, content: string, aged: boolean) => {
      writeFileSync(join(dir, name), content);
      if (aged) utimesSync(join(dir, name), old, old);
    };
    put(`${id}.0123456789ab.tmp`, "{partial", true); // stale temp: removed, not counted
    put(`${"b".repeat(64)}.0123456789ab.tmp`, "{partial", false); // a write in progress: kept
    put(`${"c".repeat(64)}.session`, "", true); // placeholder of a crashed create: removed, counted
    put(`${"d".repeat(64)}.session`, "", false); // a create in progress: kept
    put(`${"e".repeat(64)}.session`, "garbage", false); // corrupt: removed, counted
    put(`${"f".repeat(64)}.lock`, "", true); // stale lock: removed
    put("README.txt", "not ours", true);
    expect(await backend.clearExpired(T0 + 1000)).toBe(5);
    expect(readdirSync(dir).sort()).toEqual(
      [`${hashKey(live)}.session`, `${"b".repeat(64)}.0123456789ab.tmp`, `${"d".repeat(64)}.session`, "README.txt"].sort(),
    );
    expect(await backend.clearExpired(T0 + 1000)).toBe(0);
    expect(await createSessions({ backend, clock: () => T0 + 2 * HOUR }).clearExpired()).toBe(1);
  });

  it("setExpiry(seconds) is enforced on load (Django's file engine never did), and a Date too", async () => {
    const backend = fileBackend({ directory: dir });
    let now = T0;
    const sessions = createSessions({ backend, clock: () => now });
    const session = sessions.open();
    await session.set("user", "jane");
    await session.setExpiry(60);
    await session.save();
    const key = session.sessionKey as string;
    expect(JSON.parse(readFileSync(join(dir, `${hashKey(key)}.session`), "utf8")).expiresAt).toBe(T0 + 60_000);
    now = T0 + 59_999;
    expect(await sessions.open(key).get("user")).toBe("jane");
    now = T0 + 60_000;
    const late = sessions.open(key);
    expect(await late.get("user")).toBe(undefined);
    expect(late.sessionKey).toBe(null);
    expect(existsSync(join(dir, `${hashKey(key)}.session`))).toBe(true); // loading never writes; clearExpired reclaims

    now = T0;
    const dated = sessions.open();
    await dated.set("x", 1);
    await dated.setExpiry(new Date(T0 + 5000));
    await dated.save();
    now = T0 + 5000;
    expect(await sessions.open(dated.sessionKey as string).get("x")).toBe(undefined);
  });

  it("works end to end through createSessions, with no temp or lock file left", async () => {
    const backend = fileBackend({ directory: dir });
    const sessions = createSessions({ backend, clock: () => T0 });
    const session = sessions.open();
    await session.set("cart", [1, 2, 3]);
    const result = await sessions.commit(session, 200);
    const key = session.sessionKey as string;
    expect(result.setCookie?.startsWith(`sessionid=${key}; `)).toBe(true);
    const next = sessions.open(key);
    await next.set("more", true);
    await sessions.commit(next, 200);
    expect(await sessions.open(key).load()).toEqual({ cart: [1, 2, 3], more: true });
    expect(readdirSync(dir)).toEqual([`${hashKey(key)}.session`]);
    expect(dirname(join(dir, readdirSync(dir)[0] as string))).toBe(backend.directory);
  });
});

describe("fileBackend across processes", () => {
  it("four processes incrementing one counter lose no update", async () => {
    // Node 20 cannot run TypeScript, so the backend and what it imports are transpiled for the children.
    const root = mkdtempSync(join(tmpdir(), "tessera-file-procs-"));
    try {
      const src = join(import.meta.dirname, "../../src");
      // All of src/, so whatever file.ts comes to import is there; only what is imported is loaded.
      const sources = (readdirSync(src, { recursive: true }) as string[]).filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"));
      for (const file of sources) {
        const out = ts.transpileModule(readFileSync(join(src, file), "utf8"), {
          compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
        });
        mkdirSync(dirname(join(root, "lib", file)), { recursive: true });
        writeFileSync(join(root, "lib", file.replace(/\.ts$/, ".js")), out.outputText);
      }
      writeFileSync(join(root, "lib/package.json"), '{"type":"module"}');
      symlinkSync(join(import.meta.dirname, "../../node_modules"), join(root, "node_modules"), "dir"); // the package's own dependencies
      writeFileSync(
        join(root, "lib/worker.js"),
        `import { fileBackend } from "./backends/file.js";
import { VersionConflictError } from "./errors.js";
const [directory, key, count] = process.argv.slice(2);
const backend = fileBackend({ directory });
let conflicts = 0;
for (let i = 0; i < Number(count); i++) {
  for (;;) {
    const record = await backend.load(key, 0);
    const write = { data: JSON.stringify({ n: JSON.parse(record.data).n + 1 }), expiresAt: record.expiresAt, userId: null, now: 1 };
    try { await backend.update(key, write, record.version); break; }
    catch (error) { if (!(error instanceof VersionConflictError)) throw error; conflicts++; }
  }
}
console.log(conflicts);
`,
      );
      const dir = join(root, "sessions");
      mkdirSync(dir);
      const key = generateKey();
      await fileBackend({ directory: dir }).create(key, write('{"n":0}'));
      const run = promisify(execFile);
      const outputs = await Promise.all(Array.from({ length: 4 }, () => run(process.execPath, [join(root, "lib/worker.js"), dir, key, "25"])));
      const record = await fileBackend({ directory: dir }).load(key, T0);
      expect(record?.data).toBe('{"n":100}');
      expect(record?.version).toBe(101);
      expect(readdirSync(dir)).toEqual([`${hashKey(key)}.session`]);
      expect(outputs.every((o) => /^\d+\n$/.test(o.stdout))).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
