/**
 * Each example as its documented command starts it (here through the TypeScript hooks instead of
 * a tsc build): it listens on loopback only, and a taken port is a one-line message and exit 1,
 * not a stack trace.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const hooks = new URL("../hardening/ts-hooks.mjs", import.meta.url).href;
const register = `data:text/javascript,import{register}from'node:module';register(${JSON.stringify(hooks)})`;
const work = mkdtempSync(join(tmpdir(), "tessera-examples-")); // the login demo writes sessions.sqlite3 here
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Started {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

function start(example: string, port: number): Started {
  const child = spawn(process.execPath, ["--import", register, fileURLToPath(new URL(`../../examples/${example}`, import.meta.url))], {
    cwd: work,
    env: { ...process.env, PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function listeningUrl(started: Started): Promise<string> {
  const deadline = Date.now() + 45_000; // transpiling the example on a loaded machine takes a while
  for (;;) {
    const match = /on (http:\/\/[^\s]+:(\d+))/.exec(started.output());
    if (match) return match[1] as string;
    if (started.child.exitCode !== null || Date.now() > deadline) throw new Error(`did not start:\n${started.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.each([
  ["login/server.ts", "Tessera login demo"],
  ["koa/app.ts", "Koa shop"],
  ["hono/app.ts", "Hono shop"],
  ["fetch/app.ts", "Fetch shop"],
  ["fastify/app.ts", "Fastify shop"],
  ["node/app.ts", "node:http shop"],
  ["h3/app.ts", "h3 shop"],
])("examples/%s", (example, name) => {
  it("listens on 127.0.0.1 only, and a taken port is a clear message with exit 1", async () => {
    const first = start(example, 0);
    try {
      const url = await listeningUrl(first);
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(first.output()).toContain(`${name} on ${url}`);
      expect((await fetch(url)).status).toBe(200);
      const port = Number(new URL(url).port);

      const second = start(example, port);
      expect(await second.exited).toBe(1);
      expect(second.output().trim().split("\n").at(-1)).toBe(
        `Could not start the ${name} on 127.0.0.1:${port}: port ${port} is already in use (another demo?); set PORT to a free port, e.g. PORT=${port + 10}.`,
      );
      expect(second.output()).not.toMatch(/\n\s+at /); // no stack trace
    } finally {
      first.child.kill("SIGTERM");
      await first.exited;
    }
  }, 90_000);
});
