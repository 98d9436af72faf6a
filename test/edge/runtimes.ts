/**
 * Starting the edge test app on real runtimes installed from the npm registry (devDependencies
 * whose binaries come as optional platform packages): workerd (Cloudflare Workers' runtime, no
 * nodejs_compat), Deno and Bun. Each gets the app bundled for the edge (bundle.ts) and serves it
 * on 127.0.0.1.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const modules = fileURLToPath(new URL("../../node_modules/", import.meta.url));

/** A runtime's binary inside its package (`<package>/<path>`), checked to be the real executable, not a placeholder. */
export function runtimeBinary(candidates: readonly string[]): string {
  for (const candidate of candidates) {
    const file = join(modules, candidate);
    if (existsSync(file) && statSync(file).size > 1_000_000) return file;
  }
  throw new Error(
    `None of ${candidates.join(", ")} is installed as a binary: run npm ci (they are optional dependencies of the devDependencies workerd, deno and bun).`,
  );
}

/** Where npm may leave Bun's binary: moved into bun/bin by its postinstall, else still in the platform package. */
export const BUN = ["bun/bin/bun.exe", "@oven/bun-linux-x64/bin/bun", "@oven/bun-linux-x64-baseline/bin/bun"] as const;

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** A runtime serving the app: its base URL, and `stop()` (ends the process, removes its files). */
export interface RunningApp {
  readonly url: string;
  readonly output: () => string;
  stop(): Promise<void>;
}

/** Starts `command args` in `dir` and waits until `url` answers (at most `timeoutMs`). */
async function serve(command: string, args: readonly string[], dir: string, port: number | "printed", timeoutMs = 30_000): Promise<RunningApp> {
  let output = "";
  const child: ChildProcess = spawn(command, args, {
    cwd: dir,
    env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const printed = /listening (\d+)/.exec(output)?.[1];
    const known = typeof port === "number" ? port : printed === undefined ? undefined : Number(printed);
    if (known !== undefined) {
      const url = `http://127.0.0.1:${known}`;
      const answered = await fetch(`${url}/me`).then(
        (response) => response.status === 200,
        () => false,
      );
      if (answered) return { url, output: () => output, stop };
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`${command} did not serve the app:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** workerd with the bundle as its one ES module and a compatibility date, no compatibility flags. */
export async function startWorkerd(bundle: string): Promise<RunningApp> {
  const binary = runtimeBinary(["@cloudflare/workerd-linux-64/bin/workerd"]);
  const dir = mkdtempSync(join(tmpdir(), "tessera-workerd-"));
  writeFileSync(join(dir, "worker.js"), bundle);
  const port = await freePort();
  writeFileSync(
    join(dir, "config.capnp"),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [(name = "worker", esModule = embed "worker.js")],
  compatibilityDate = "2025-09-01",
);
`,
  );
  return serve(binary, ["serve", "config.capnp"], dir, port);
}

/** Deno, allowed only to listen on and connect to 127.0.0.1 (no files, no environment). The entry prints "listening <port>". */
export async function startDeno(bundle: string): Promise<RunningApp> {
  const binary = runtimeBinary(["@deno/linux-x64-glibc/deno"]);
  const dir = mkdtempSync(join(tmpdir(), "tessera-deno-"));
  writeFileSync(join(dir, "app.mjs"), bundle);
  return serve(binary, ["run", "--no-config", "--no-lock", "--allow-net=127.0.0.1", "app.mjs"], dir, "printed");
}

/** Bun. The entry prints "listening <port>". */
export async function startBun(bundle: string): Promise<RunningApp> {
  const binary = runtimeBinary(BUN);
  const dir = mkdtempSync(join(tmpdir(), "tessera-bun-"));
  writeFileSync(join(dir, "app.mjs"), bundle);
  return serve(binary, ["run", "app.mjs"], dir, "printed");
}
