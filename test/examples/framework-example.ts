/**
 * What the SvelteKit and Astro example tests share: building an example with its framework's CLI
 * and serving it with its serve.js in a child Node, on the major the repo installs (Node 20) and
 * on the framework's current major (installed into a temp dir with installPeers, built and served
 * by the registry's Node 24), then driving the shop over HTTP.
 */
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useChromium } from "../browser.js";
import { browseShop } from "./shop-browser.js";
import { driveShop } from "./shop-scenario.js";
import { installPeers, run, type PeerInstall } from "../peer-install.js";

export const repo = fileURLToPath(new URL("../..", import.meta.url));
const nodePackage = `node-${process.platform}-${process.arch}`;

/** Where an example's app lives and how it builds: `bin` is the build CLI's name in node_modules/.bin (its script moves between majors). */
export interface ExampleBuild {
  readonly example: string;
  readonly bin: string;
  readonly args: readonly string[];
  /** What the build writes (left out of the copy for the current major). */
  readonly outputs: readonly string[];
}

const ENV = { ...process.env, NODE_ENV: "production", ASTRO_TELEMETRY_DISABLED: "1" };

/** Builds the example in place with this Node and the repo's framework. */
export async function buildInRepo(build: ExampleBuild): Promise<string> {
  const dir = join(repo, "examples", build.example);
  await run(process.execPath, [join(repo, "node_modules", ".bin", build.bin), ...build.args], { cwd: dir, env: ENV });
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
  await run(node, [join(peers.dir, "node_modules", ".bin", build.bin), ...build.args], { cwd: dir, env: ENV });
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

/** What describeFrameworkExample needs to know about a framework. */
export interface FrameworkExample {
  /** The framework as its serve.js names the shop ("SvelteKit" serves the "SvelteKit shop"). */
  readonly framework: string;
  /** The package whose major is under test. */
  readonly packageName: string;
  readonly build: ExampleBuild;
  /** The installed major (devDependencies) and the current one, with what installs the current one. */
  readonly installedMajor: string;
  readonly currentMajor: string;
  readonly currentSpecs: readonly string[];
  /** What this example answers beyond the shop (each major), as `[what, check]`. */
  readonly alsoChecks?: readonly (readonly [string, (url: string) => Promise<void>])[];
}

/**
 * The example on the installed major under this Node 20 and on the current major under Node 24:
 * each built once, served by its serve.js, and driven through the shop and bad cookies, over HTTP
 * and in Chromium.
 */
export function describeFrameworkExample(example: FrameworkExample): void {
  const installedVersion = () =>
    (JSON.parse(readFileSync(join(repo, "node_modules", example.packageName, "package.json"), "utf8")) as { version: string }).version;
  let current: Promise<CurrentMajor>;
  let inRepo: string;

  beforeAll(async () => {
    // The current major installs (and builds) while the repo's build runs.
    current = buildCurrentMajor(example.build, example.currentSpecs);
    current.catch(() => {}); // awaited (and reported) by its describe block
    inRepo = await buildInRepo(example.build);
  }, 300_000);

  afterAll(async () => (await current.catch(() => undefined))?.peers.remove());
  const chromium = useChromium();

  describe.each([
    [example.installedMajor, "20", async () => ({ node: process.execPath, dir: inRepo, version: installedVersion() })],
    [example.currentMajor, "24", async () => ({ ...(await current), version: (await current).peers.version(example.packageName) })],
  ])(`the ${example.framework} example: ${example.framework} %s on Node %s`, (major, nodeMajor, setup) => {
    let app: Served;
    beforeAll(async () => {
      const { node, dir } = await setup();
      app = await serve(node, dir, `${example.framework} shop`);
    }, 300_000);
    afterAll(() => app?.stop());

    it("runs the majors it names", async () => {
      const { node, version } = await setup();
      const nodeVersion = await run(node, ["-p", "process.versions.node"], { cwd: repo });
      expect([version.split(".")[0], nodeVersion.split(".")[0]]).toEqual([major, nodeMajor]);
    });

    it("login -> cart -> logout, every POST checked for its CSRF token", async () => {
      await driveShop(app.url);
    }, 60_000);

    it("a tampered or oversized session cookie is an empty session, not a 500", async () => {
      await expectBadCookiesEmpty(app.url);
    });

    it("in Chromium on a 390 px phone: login -> cart -> reload -> logout", () => browseShop(chromium, app.url), 60_000);

    for (const [what, check] of example.alsoChecks ?? []) it(what, () => check(app.url));
  });
}
