/**
 * Many processes, one store: 4 app processes (test/scale/worker.ts, tessera-sessions/node) share one
 * SQLite file (WAL, busy timeout), one PostgreSQL database or one Redis server. 1,000 requests
 * over 50 sessions are routed at random between them, up to 32 at a time, each adding a unique
 * value to its session; afterwards every session holds exactly what its requests wrote, and
 * kept its key. A session created by one process is also read, changed and flushed by others.
 *
 * Why 4 independent processes, each on its own port, rather than node:cluster behind one port:
 * the test picks the process for every request (seeded random), so it knows two consecutive
 * requests of a session really went to different processes, and it can check that each process
 * served its share. node:cluster's primary balances round-robin by itself, and its workers
 * would have to be forked from a non-vitest primary. What the store sees is the same: several
 * processes with their own connections, pools and in-memory state. The same 4 processes serve
 * all three stores (each under its own path), since loading the TypeScript sources in a child
 * process takes seconds on a busy machine.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { Agent, request as httpRequest } from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSessions } from "tessera-sessions";
import { databaseBackend } from "tessera-sessions/backends/db";
import { startPostgres } from "../servers/postgres.js";
import { startRedis } from "../servers/redis.js";

const hooks = new URL("../hardening/ts-hooks.mjs", import.meta.url).href;
const workerFile = fileURLToPath(new URL("./worker.ts", import.meta.url));
const PROCESSES = 4;
const SESSIONS = 50;
const REQUESTS = 1000;
const IN_FLIGHT = 32;

interface Worker {
  readonly port: number;
  readonly child: ChildProcess;
  readonly stderr: () => string;
}

/** Starts one app process serving `stores` (name=url) and waits until it listens (90 s at most). */
function startWorker(stores: readonly string[]): Promise<Worker> {
  const child = spawn(
    process.execPath,
    ["--import", `data:text/javascript,import{register}from'node:module';register(${JSON.stringify(hooks)})`, workerFile, ...stores],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`worker did not listen within 90 s: ${stderr}`));
    }, 90_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${String(code)} before listening: ${stderr}`));
    });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once("line", (line) => {
      clearTimeout(timer);
      resolve({ port: (JSON.parse(line) as { port: number }).port, child, stderr: () => stderr });
    });
  });
}

/** Stops a worker with SIGTERM (it closes its sessions) and waits for it; SIGKILL after 5 s. */
async function stopWorker(worker: Worker): Promise<number | null> {
  const { child } = worker;
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const gone = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  const code = await gone;
  clearTimeout(timer);
  return code;
}

interface Answer {
  readonly status: number;
  readonly pid: number;
  readonly data: Record<string, unknown>;
  /** The session cookie's new value if the answer set one ("" for a deletion). */
  readonly cookie: string | undefined;
}

const agent = new Agent({ keepAlive: true, maxSockets: 16 });

function call(port: number, path: string, cookie: string | undefined): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = cookie === undefined ? {} : { cookie: `sessionid=${cookie}` };
    const req = httpRequest({ host: "127.0.0.1", port, path, headers, agent, timeout: 20_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => {
        let set: string | undefined;
        for (const line of res.headers["set-cookie"] ?? []) {
          const [pair] = line.split(";");
          if (pair?.startsWith("sessionid=")) set = pair.slice("sessionid=".length);
        }
        try {
          const parsed = JSON.parse(body) as { pid: number; data: Record<string, unknown> };
          resolve({ status: res.statusCode ?? 0, pid: parsed.pid, data: parsed.data, cookie: set });
        } catch {
          reject(new Error(`port ${port} ${path}: status ${String(res.statusCode)}, body ${body.slice(0, 500)}`));
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error(`port ${port} ${path}: no answer within 20 s`)));
    req.on("error", reject);
    req.end();
  });
}

/** A small seeded PRNG (mulberry32), so a failing routing can be replayed from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Store {
  readonly url: string;
  stop(): Promise<void>;
}

const STORES: Record<string, () => Promise<Store>> = {
  async sqlite() {
    // One file; each process opens it with WAL and a busy timeout, and migrates it on first use.
    const dir = await mkdtemp(join(tmpdir(), "tessera-scale-sqlite-"));
    return { url: `sqlite:${join(dir, "sessions.sqlite3")}`, stop: () => rm(dir, { recursive: true, force: true }) };
  },
  async postgres() {
    const server = await startPostgres();
    const sessions = createSessions({ backend: databaseBackend({ url: server.url }) });
    try {
      await sessions.migrate(); // what `tessera migrate` does at deploy time
    } finally {
      await sessions.close();
    }
    return server;
  },
  redis: () => startRedis(),
};

const stores = new Map<string, Store>();
const workers: Worker[] = [];
const port = (i: number) => (workers[i] as Worker).port;

beforeAll(async () => {
  const started = await Promise.allSettled(Object.entries(STORES).map(async ([name, start]) => stores.set(name, await start())));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) throw failed.reason;
  const args = [...stores].map(([name, store]) => `${name}=${store.url}`);
  workers.push(...(await Promise.all(Array.from({ length: PROCESSES }, () => startWorker(args)))));
}, 180_000);

afterAll(async () => {
  const codes = await Promise.all(workers.map(stopWorker));
  agent.destroy();
  await Promise.all([...stores.values()].map((store) => store.stop()));
  // SIGTERM closes each process's sessions (pools, connections) and the process exits 0.
  expect(codes, workers.map((w) => w.stderr()).join("\n")).toEqual(workers.map(() => 0));
}, 60_000);

describe.each(Object.keys(STORES))(`${PROCESSES} processes sharing one %s store`, (name) => {
  const seed = Number(process.env["TESSERA_SCALE_SEED"] ?? Date.now() % 1_000_000);
  const next = random(seed);
  const pick = (n: number) => Math.floor(next() * n);
  const at = (path: string) => `/${name}${path}`;

  it(`${REQUESTS} requests over ${SESSIONS} sessions, routed at random: every session ends with exactly what its requests wrote (seed ${seed})`, async () => {
    const keys: string[] = [];
    const expected: Record<string, unknown>[] = [];
    for (let s = 0; s < SESSIONS; s++) {
      const answer = await call(port(pick(PROCESSES)), at(`/set?k=s&v=${s}`), undefined);
      expect(answer.status).toBe(200);
      expect(answer.cookie).toMatch(/^[a-z0-9]{32,}$/);
      keys.push(answer.cookie as string);
      expected.push({ s: String(s) });
    }

    const plan = Array.from({ length: REQUESTS }, (_, n) => ({ n, session: pick(SESSIONS), worker: pick(PROCESSES) }));
    const served = new Map<number, number>();
    const failures: string[] = [];
    let cursor = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (cursor < plan.length) {
          const { n, session, worker } = plan[cursor++] as (typeof plan)[number];
          (expected[session] as Record<string, unknown>)[`r${n}`] = n;
          try {
            const answer = await call(port(worker), at(`/add?n=${n}`), keys[session]);
            served.set(answer.pid, (served.get(answer.pid) ?? 0) + 1);
            if (answer.status !== 200) failures.push(`request ${n}: status ${answer.status}`);
            if (answer.cookie !== undefined && answer.cookie !== keys[session]) failures.push(`request ${n}: session ${session} got a new key`);
          } catch (error) {
            failures.push(`request ${n}: ${(error as Error).message}`);
          }
        }
      }),
    );
    expect(failures, workers.map((w) => w.stderr()).join("\n")).toEqual([]);
    // Every process served its share (the routing really spread them).
    expect(served.size).toBe(PROCESSES);
    for (const count of served.values()) expect(count).toBeGreaterThan(REQUESTS / PROCESSES / 2);

    for (let s = 0; s < SESSIONS; s++) {
      const answer = await call(port(s % PROCESSES), at("/data"), keys[s]);
      expect(answer.data, `session ${s}`).toEqual(expected[s]);
    }
  }, 60_000);

  it("a session created by one process is read, changed and flushed by others", async () => {
    const created = await call(port(0), at("/set?k=owner&v=first"), undefined);
    const key = created.cookie as string;
    expect(key).toMatch(/^[a-z0-9]{32,}$/);

    const read = await call(port(1), at("/data"), key);
    expect(read.pid).not.toBe(created.pid);
    expect(read.data).toEqual({ owner: "first" });

    const changed = await call(port(2), at("/set?k=owner&v=second"), key);
    expect(changed.data).toEqual({ owner: "second" });
    expect((await call(port(3), at("/data"), key)).data).toEqual({ owner: "second" });

    const flushed = await call(port(3), at("/flush"), key);
    expect(flushed.cookie).toBe(""); // an empty flushed session: the cookie is deleted
    // The old key names nothing in any process now, even the one that created it.
    for (let i = 0; i < PROCESSES; i++) expect((await call(port(i), at("/data"), key)).data).toEqual({});
  });
});
