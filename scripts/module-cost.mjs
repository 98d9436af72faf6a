#!/usr/bin/env node
/**
 * What the core costs an app at startup (issue 15, item 5):
 *
 * 1. the modules of this package that `import "tessera-sessions"` plus the memory backend loads,
 *    with their lines of source, while an app creates sessions and saves one;
 * 2. the modules an app on Tessera's SQL table loads (Django's table format stays out);
 * 3. the size of a cookie-only app (`signedCookieBackend`) bundled with `esbuild --bundle --minify`.
 *
 * Runs on the TypeScript sources (test/hardening/ts-hooks.mjs), so no build is needed.
 *
 *   node scripts/module-cost.mjs               a report
 *   node scripts/module-cost.mjs --json        the same as JSON (test/module-cost.test.ts reads it)
 *   node scripts/module-cost.mjs --root DIR    measure another checkout, e.g. main before a change
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const args = process.argv.slice(2);
const json = args.includes("--json");
const rootArgument = args.indexOf("--root");
const root = resolve(rootArgument === -1 ? fileURLToPath(new URL("..", import.meta.url)) : (args[rootArgument + 1] ?? "."));
const src = join(root, "src");

/** An app on memory sessions: it creates the sessions, then saves one as a request would. */
const MEMORY_APP = `
import { createSessions } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
const sessions = createSessions({ backend: memoryBackend(), secret: "s".repeat(32) });
const session = sessions.open();
await session.set("n", 1);
await sessions.commit(session, 200);
`;

/** An app on Tessera's own SQL table (SQLite in memory): Django's table format stays unloaded. */
const SQLITE_APP = `
import { createSessions } from "tessera-sessions";
import { databaseBackend } from "tessera-sessions/backends/db";
const sessions = createSessions({ backend: databaseBackend({ url: "sqlite::memory:" }) });
const session = sessions.open();
await session.set("n", 1);
await sessions.commit(session, 200);
await sessions.close();
`;

/** A cookie-only app: sessions in signed cookies, nothing on the server. */
const COOKIE_APP = `
import { createSessions } from "tessera-sessions";
import { signedCookieBackend } from "tessera-sessions/backends/signed-cookies";
const sessions = createSessions({ backend: signedCookieBackend(), secret: process.env.SESSION_SECRET });
export async function handle(cookie) {
  const session = sessions.open(cookie);
  await session.set("visits", ((await session.get("visits")) ?? 0) + 1);
  return sessions.commit(session, 200);
}
`;

/** The files of this package a Node process loads to run `program` (an ES module's text). */
function loadedSources(program) {
  const dir = mkdtempSync(join(tmpdir(), "tessera-module-cost-"));
  const log = join(dir, "loaded.txt");
  // Node's module hooks see every module loaded; this one notes each file's URL, then lets the
  // TypeScript hooks (registered first, so they run after it) load it.
  const recorder = `import { appendFileSync } from "node:fs";
export async function load(url, context, next) {
  if (url.startsWith("file:")) appendFileSync(${JSON.stringify(log)}, url + "\\n");
  return next(url, context);
}`;
  const hooks = pathToFileURL(join(root, "test/hardening/ts-hooks.mjs")).href;
  const register = `import { register } from "node:module"; register(${JSON.stringify(hooks)}); register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(recorder)}`)});`;
  try {
    execFileSync(process.execPath, ["--import", `data:text/javascript,${encodeURIComponent(register)}`, "--input-type=module", "--eval", program], {
      cwd: root,
      stdio: ["ignore", "ignore", "inherit"],
    });
    const urls = readFileSync(log, "utf8")
      .split("\n")
      .filter((line) => line !== "");
    return [...new Set(urls.map((url) => fileURLToPath(url)))].filter((path) => path.startsWith(src + "/")).sort();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The minified bundle of `program` (esbuild, for Node), with "tessera-sessions/…" taken from the
 * sources: its bytes in one file, and with code splitting the bytes of the entry chunk (what
 * loads at startup; each dynamic import becomes a chunk of its own that loads on first use).
 */
async function bundledBytes(program) {
  const { build } = await import("esbuild");
  const bytes = (files) => files.reduce((total, file) => total + file.contents.byteLength, 0);
  const single = await build({ ...bundleOptions(program), write: false });
  const split = await build({ ...bundleOptions(program), splitting: true, outdir: join(tmpdir(), "tessera-module-cost-out"), write: false });
  const entry = split.outputFiles.filter((file) => file.path.endsWith("/stdin.js"));
  return { oneFile: bytes(single.outputFiles), entryChunk: bytes(entry) };
}

function bundleOptions(program) {
  return {
    stdin: { contents: program, resolveDir: root, loader: "js" },
    bundle: true,
    minify: true,
    platform: "node",
    format: "esm",
    logLevel: "error",
    plugins: [
      {
        name: "tessera-sources",
        setup(builder) {
          builder.onResolve({ filter: /^tessera-sessions(\/|$)/ }, ({ path }) => {
            const subpath = path.slice("tessera-sessions".length);
            if (subpath === "") return { path: join(src, "index.ts") };
            if (subpath === "/backends/db") return { path: join(src, "backends/db/index.ts") };
            return { path: join(src, `${subpath.slice(1)}.ts`) };
          });
        },
      },
    ],
  };
}

const lines = (path) => readFileSync(path, "utf8").split("\n").length - 1;
const modules = loadedSources(MEMORY_APP).map((path) => ({ file: relative(src, path), lines: lines(path) }));
const report = {
  memoryApp: { modules: modules.length, lines: modules.reduce((total, m) => total + m.lines, 0), files: modules },
  sqliteApp: { loaded: loadedSources(SQLITE_APP).map((path) => relative(src, path)) },
  cookieApp: {
    bundledBytes: await bundledBytes(COOKIE_APP),
    loaded: loadedSources(COOKIE_APP.replace("process.env.SESSION_SECRET", '"s".repeat(32)') + "await handle(undefined);").map((path) => relative(src, path)),
  },
};

if (json) {
  process.stdout.write(`${JSON.stringify(report)}\n`);
} else {
  console.log(`import "tessera-sessions" + memory backend: ${report.memoryApp.modules} modules, ${report.memoryApp.lines} lines`);
  for (const { file, lines: count } of modules) console.log(`  ${file} (${count})`);
  console.log(`SQLite app (databaseBackend): ${report.sqliteApp.loaded.length} modules: ${report.sqliteApp.loaded.join(", ")}`);
  const { oneFile, entryChunk } = report.cookieApp.bundledBytes;
  console.log(`cookie-only app, esbuild --bundle --minify: ${oneFile} bytes in one file; with --splitting, ${entryChunk} bytes in the entry chunk`);
  console.log(`  loads: ${report.cookieApp.loaded.join(", ")}`);
}
