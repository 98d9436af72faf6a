/**
 * The SvelteKit example (examples/sveltekit), built with `vite build` and served by its serve.js
 * (SvelteKit's Server over node:http), as `npm run example:sveltekit` runs it: the shop driven
 * over HTTP on SvelteKit 2 under this Node 20, and on SvelteKit 3 (the current major) built and
 * served by Node 24 from the registry.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildDist } from "../build-dist.js";
import { run } from "../peer-install.js";
import { buildCurrentMajor, buildInRepo, repo, type CurrentMajor, expectBadCookiesEmpty, type ExampleBuild, serve, type Served } from "./framework-example.js";
import { driveShop } from "./shop-scenario.js";

const BUILD: ExampleBuild = { example: "sveltekit", cli: "vite/bin/vite.js", args: ["build"], outputs: [".svelte-kit", "node_modules"] };
const CURRENT = ["@sveltejs/kit@3", "@sveltejs/vite-plugin-svelte@7", "svelte@5", "vite@8"];

const kitVersion = () => (JSON.parse(readFileSync(join(repo, "node_modules", "@sveltejs", "kit", "package.json"), "utf8")) as { version: string }).version;

let current: Promise<CurrentMajor>;
let inRepo: string;

beforeAll(async () => {
  await buildDist();
  // The current major installs (and builds) while the repo's build runs.
  current = buildCurrentMajor(BUILD, CURRENT);
  current.catch(() => {}); // awaited by its test
  inRepo = await buildInRepo(BUILD);
}, 300_000);

afterAll(async () => (await current.catch(() => undefined))?.peers.remove());

describe.each([
  ["SvelteKit 2 on Node 20", async () => ({ node: process.execPath, dir: inRepo, kit: kitVersion(), nodeMajor: "20" })],
  ["SvelteKit 3 on Node 24", async () => ({ ...(await current), kit: (await current).peers.version("@sveltejs/kit"), nodeMajor: "24" })],
])("the SvelteKit example: %s", (name, setup) => {
  let app: Served;
  beforeAll(async () => {
    const { node, dir } = await setup();
    app = await serve(node, dir, "SvelteKit shop");
  }, 300_000);
  afterAll(() => app?.stop());

  it("runs the majors it names", async () => {
    const { node, kit, nodeMajor } = await setup();
    const [, kitMajor] = /^SvelteKit (\d+)/.exec(name) ?? [];
    expect([kit.split(".")[0], (await run(node, ["-p", "process.versions.node"], { cwd: repo })).split(".")[0]]).toEqual([kitMajor, nodeMajor]);
  });

  it("login -> cart -> logout, every POST checked for its CSRF token", async () => {
    await driveShop(app.url);
  }, 60_000);

  it("a tampered or oversized session cookie is an empty session, not a 500", async () => {
    await expectBadCookiesEmpty(app.url);
  });
});
