/**
 * Installs other versions of a peer dependency (or a Node binary) into a throwaway directory at
 * test time, from the npm registry, so one suite can run against the oldest and newest releases
 * a peer range allows while the repo's node_modules holds just one.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/** A directory with packages installed into its node_modules; `remove()` deletes it. */
export interface PeerInstall {
  readonly dir: string;
  /** The installed version of `name` (from its package.json). */
  version(name: string): string;
  /** Imports `name` as resolved from the directory (its `exports`, CommonJS or ESM). */
  load<T>(name: string): Promise<T>;
  remove(): void;
}

/** Runs a command, rejecting with its stderr on a non-zero exit. */
export function run(command: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd: options.cwd, env: options.env ?? process.env, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(" ")} failed (${error.message.split("\n")[0]}):\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/**
 * `npm install --prefix <tmp> <specs>`: --prefer-offline, so a warm npm cache skips the registry's
 * metadata. `buildFromSource` compiles native addons with node-gyp, unoptimised, instead of
 * downloading a prebuilt binary (those come from GitHub, which CI cannot reach).
 */
export async function installPeers(specs: readonly string[], options: { buildFromSource?: boolean; ignoreScripts?: boolean } = {}): Promise<PeerInstall> {
  const dir = mkdtempSync(join(tmpdir(), "tessera-peers-"));
  // npm 11 asks for install scripts to be allowed by name; a build from source needs its script.
  const names = specs.map((spec) => spec.replace(/(.)@.*$/, "$1"));
  const allowScripts = options.buildFromSource ? Object.fromEntries(names.map((name) => [name, true])) : {};
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "tessera-peer-install", private: true, allowScripts }));
  // Unoptimised (-O0 comes after node-gyp's -O3): SQLite compiles in a third of the CPU time.
  const build = { npm_config_build_from_source: "true", CFLAGS: "-O0", CXXFLAGS: "-O0" };
  const env = { ...process.env, ...(options.buildFromSource ? build : {}) };
  const flags = ["--no-audit", "--no-fund", "--prefer-offline", "--no-save", ...(options.ignoreScripts ? ["--ignore-scripts"] : [])];
  try {
    await run("npm", ["install", "--prefix", dir, ...flags, ...specs], { cwd: dir, env }).catch((error: Error) => {
      // A warm cache's metadata can predate a release the new packages need (ETARGET): ask the registry.
      if (!error.message.includes("ETARGET")) throw error;
      return run("npm", ["install", "--prefix", dir, ...flags.filter((flag) => flag !== "--prefer-offline"), "--prefer-online", ...specs], { cwd: dir, env });
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const require = createRequire(join(dir, "package.json"));
  return {
    dir,
    version: (name) => (JSON.parse(readFileSync(join(dir, "node_modules", name, "package.json"), "utf8")) as { version: string }).version,
    load: async <T>(name: string) => (await import(pathToFileURL(require.resolve(name)).href)) as T,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
