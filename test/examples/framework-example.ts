/**
 * What the SvelteKit and Astro example tests share: building an example with its framework's CLI
 * and serving it with its serve.js in a child Node, on the major the repo installs (Node 20) and
 * on the framework's current major (installed into a temp dir with installPeers, built and served
 * by the registry's Node 24), then driving the shop over HTTP.
 */
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import { installPeers, run, type PeerInstall } from "../peer-install.js";

export const repo = fileURLToPath(new URL("../..", import.meta.url));
const nodePackage = `node-${process.platform}-${process.arch}`;

/** Where an example's app lives and how it builds: `cli` is the build script under node_modules. */
export interface ExampleBuild {
  readonly example: string;
  readonly cli: string;
  readonly args: readonly string[];
  /** What the build writes (left out of the copy for the current major). */
  readonly outputs: readonly string[];
}

const ENV = { ...process.env, NODE_ENV: "production", ASTRO_TELEMETRY_DISABLED: "1" };

/** Builds the example in place with this Node and the repo's framework. */
export async function buildInRepo(build: ExampleBuild): Promise<string> {
  const dir = join(repo, "examples", build.example);
  await run(process.execPath, [join(repo, "node_modules", build.cli), ...build.args], { cwd: dir, env: ENV });
  return dir;
}

/** The current major: `specs` and Node 24 installed into a temp dir, the example (and examples/shared) copied there and built by that Node. */
export interface CurrentMajor {
  readonly peers: PeerInstall;
  readonly node: string;
  readonly dir: string;
}

export async function buildCurrentMajor(build: ExampleBuild, specs: readonly string[]): Promise<CurrentMajor> {
  const peers = await installPeers([...specs, `${nodePackage}@24`], { ignoreScripts: true });
  const node = join(peers.dir, "node_modules", nodePackage, "bin", "node");
  // The app imports tessera-sessions as users do: through the package's exports (the repo's dist/).
  symlinkSync(repo, join(peers.dir, "node_modules", "tessera-sessions"), "dir");
  // The examples are ES modules (the repo's package.json says so; this one must too).
  writeFileSync(join(peers.dir, "package.json"), JSON.stringify({ name: "tessera-current-major", private: true, type: "module" }));
  const examples = join(peers.dir, "examples");
  mkdirSync(examples);
  cpSync(join(repo, "examples", "shared"), join(examples, "shared"), { recursive: true });
  const source = join(repo, "examples", build.example);
  const skip = new Set(build.outputs.map((output) => join(source, output)));
  const dir = join(examples, build.example);
  cpSync(source, dir, { recursive: true, filter: (path) => !skip.has(path) });
  await run(node, [join(peers.dir, "node_modules", build.cli), ...build.args], { cwd: dir, env: ENV });
  return { peers, node, dir };
}

/** A served example: its URL, what it printed, and how to stop it. */
export interface Served {
  readonly url: string;
  readonly output: () => string;
  stop(): Promise<void>;
}

/** `node serve.js` in `dir` on a free loopback port (PORT=0), once it says where it listens. */
export async function serve(node: string, dir: string, name: string): Promise<Served> {
  const child = spawn(node, ["serve.js"], { cwd: dir, env: { ...ENV, PORT: "0" }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  for (const deadline = Date.now() + 30_000; ;) {
    const match = new RegExp(`^${name} on (http://127\\.0\\.0\\.1:\\d+) \\(Ctrl\\+C stops it\\)$`, "m").exec(output);
    if (match) return { url: match[1] as string, output: () => output, stop };
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`${name} did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const DELETION = "sessionid=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Lax";

/** A tampered, malformed or oversized session cookie is an empty session (the login form), never a 500. */
export async function expectBadCookiesEmpty(url: string): Promise<void> {
  for (const value of ["not-a-key", "a".repeat(32), "%ZZ", "x".repeat(4000)]) {
    const res = await fetch(`${url}/`, { headers: { cookie: `sessionid=${value}` } });
    expect([value.slice(0, 10), res.status]).toEqual([value.slice(0, 10), 200]);
    expect(await res.text()).toContain('action="/login"');
    expect(res.headers.getSetCookie().filter((line) => line.startsWith("sessionid="))).toEqual([DELETION]);
  }
}
