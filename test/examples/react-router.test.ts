/**
 * The React Router example (examples/react-router), a framework-mode app built with
 * `react-router build` and served by `react-router-serve`, as a user runs it: on the repo's
 * React Router 7 under this Node (20), and on the current major, React Router 8, installed from
 * the registry and built and served with Node 24 (which it needs). Both are driven through the
 * shop scenario over HTTP (login with cycleKey, cart, logout, every POST's CSRF check).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildDist } from "../build-dist.js";
import { installPeers, run, type PeerInstall } from "../peer-install.js";
import { freePort } from "../servers/util.js";
import { driveShop } from "./shop-scenario.js";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const example = join(repo, "examples", "react-router");
const nodePackage = `node-${process.platform}-${process.arch}`;
const DELETION = "sessionid=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Lax";
/** The current major's packages, and the Node it needs. */
const CURRENT = [
  "react-router@8",
  "@react-router/dev@8",
  "@react-router/node@8",
  "@react-router/serve@8",
  "vite@8",
  "react@19",
  "react-dom@19",
  "cookie@1",
  `${nodePackage}@24`,
];

/** The one executable a package declares (`bin` in its package.json), under `nodeModules`. */
function binOf(nodeModules: string, name: string): string {
  const { bin } = JSON.parse(readFileSync(join(nodeModules, name, "package.json"), "utf8")) as { bin: Record<string, string> };
  return join(nodeModules, name, Object.values(bin)[0] as string);
}

interface App {
  readonly url: string;
  stop(): Promise<void>;
}

/** `react-router-serve build/server/index.js` in `dir`, on a free loopback port. */
async function serve(node: string, serveBin: string, dir: string): Promise<App> {
  const port = await freePort();
  const log: string[] = [];
  const child: ChildProcess = spawn(node, [serveBin, "build/server/index.js"], {
    cwd: dir,
    env: { ...process.env, HOST: "127.0.0.1", PORT: String(port), NODE_ENV: "production" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (chunk: Buffer) => log.push(chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => log.push(chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const url = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 30_000; ;) {
    if (child.exitCode !== null) throw new Error(`react-router-serve exited (${child.exitCode}):\n${log.join("")}`);
    if (
      await fetch(url).then(
        (res) => res.ok,
        () => false,
      )
    )
      break;
    if (Date.now() > deadline) throw new Error(`react-router-serve did not answer within 30 s:\n${log.join("")}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    url,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** What both majors must do beyond the shop scenario: a tampered cookie is an empty session, dropped. */
async function tamperedCookie(url: string): Promise<void> {
  for (const value of ["abc", "x".repeat(32), "<script>".repeat(8)]) {
    const res = await fetch(url, { headers: { cookie: `sessionid=${value}` } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('action="/login"');
    expect(res.headers.getSetCookie().filter((line) => line.startsWith("sessionid="))).toEqual([DELETION]);
  }
}

let current: PeerInstall;
let installed: App;
let latest: App;

beforeAll(async () => {
  // The current major downloads while this Node builds the example with the repo's major.
  const install = installPeers(CURRENT, { ignoreScripts: true });
  await buildDist();
  await run(process.execPath, [binOf(join(repo, "node_modules"), "@react-router/dev"), "build"], { cwd: example });
  installed = await serve(process.execPath, binOf(join(repo, "node_modules"), "@react-router/serve"), example);
  current = await install;
  // The same source, beside the shared shop parts it imports, with the package linked in.
  const copy = join(current.dir, "examples", "react-router");
  mkdirSync(copy, { recursive: true });
  for (const name of ["app", "react-router.config.ts", "vite.config.ts"]) cpSync(join(example, name), join(copy, name), { recursive: true });
  cpSync(join(repo, "examples", "shared"), join(current.dir, "examples", "shared"), { recursive: true });
  symlinkSync(repo, join(current.dir, "node_modules", "tessera-sessions"));
  const node24 = join(current.dir, "node_modules", nodePackage, "bin", "node");
  await run(node24, [binOf(join(current.dir, "node_modules"), "@react-router/dev"), "build"], { cwd: copy });
  latest = await serve(node24, binOf(join(current.dir, "node_modules"), "@react-router/serve"), copy);
}, 300_000);

afterAll(async () => {
  await installed?.stop();
  await latest?.stop();
  current?.remove();
});

describe("React Router 7 (the repo's), Node 20", () => {
  it("runs React Router 7", async () => {
    expect(JSON.parse(await run(process.execPath, ["-p", "JSON.stringify(require('react-router/package.json').version)"], { cwd: repo }))).toMatch(/^7\./);
  });
  it("the shop: login -> cart -> logout over real HTTP, every POST checked for its CSRF token", async () => {
    await driveShop(installed.url);
  });
  it("a tampered cookie is an empty session whose cookie is deleted, never a 500", async () => {
    await tamperedCookie(installed.url);
  });
});

describe("React Router 8 (current major), Node 24", () => {
  it("runs React Router 8 on Node 24", async () => {
    expect(current.version("react-router")).toMatch(/^8\./);
    expect(await run(join(current.dir, "node_modules", nodePackage, "bin", "node"), ["--version"], { cwd: current.dir })).toMatch(/^v24\./);
  });
  it("the shop: login -> cart -> logout over real HTTP, every POST checked for its CSRF token", async () => {
    await driveShop(latest.url);
  });
  it("a tampered cookie is an empty session whose cookie is deleted, never a 500", async () => {
    await tamperedCookie(latest.url);
  });
});
