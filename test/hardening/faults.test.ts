/**
 * Real faults under real load, through real HTTP (tessera-sessions/node on 127.0.0.1):
 * - Redis killed with SIGKILL and restarted on its port while 20 visitors write to their
 *   sessions: a clear 503 while it is down (never a 500 or a hang; routes that do not touch
 *   the session still answer 200), and the same server process serves again afterwards.
 * - PostgreSQL crashed (immediate shutdown) and restarted on its port and data directory under
 *   the same load: the same, and no write acknowledged before the crash is lost.
 * - `kill -9` of a child process in the middle of big file-backend writes, several times: every
 *   session file is a complete record, no acknowledged save is lost, and the backend breaks the
 *   lock files the dead process left and saves again.
 * - Memory stays flat across 20 000 hostile requests on memoryBackend({ maxEntries: 1000 }).
 */
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import { mkdtemp, readdir, readFile, rm, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { BackendError, createSessions, type Sessions } from "tessera-sessions";
import { cacheBackend } from "tessera-sessions/backends/cache";
import { databaseBackend } from "tessera-sessions/backends/db";
import { fileBackend } from "tessera-sessions/backends/file";
import { withSession } from "tessera-sessions/node";
import { startPostgres } from "../servers/postgres.js";
import { startRedis, type RedisServer } from "../servers/redis.js";
import { get, listen, setCookieValue, type Reply } from "./http.js";

const hooks = new URL("./ts-hooks.mjs", import.meta.url).href;
const register = `data:text/javascript,import{register}from'node:module';register(${JSON.stringify(hooks)})`;
const CLIENTS = 20;

/** Everything that ends a test, run last first. */
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

/**
 * The app under load: `/write?k=<name>&v=<n>` sets one key of the session, `/read` answers the
 * session's data as JSON, anything else answers "ok" without touching the session.
 */
function app(sessions: Sessions): Server {
  return createServer(
    withSession(sessions, async (req, res) => {
      const url = new URL(req.url ?? "/", "http://localhost");
      if (url.pathname === "/write") {
        await req.session.set(url.searchParams.get("k") as string, Number(url.searchParams.get("v")));
        res.end("saved");
      } else if (url.pathname === "/read") {
        res.end(JSON.stringify(await req.session.load()));
      } else {
        res.end("ok");
      }
    }),
  );
}

/** What the app logs as failed requests: each error object, to check they are all BackendErrors. */
function failureLogger() {
  const failures: unknown[] = [];
  return { failures, warn: () => {}, error: (_message: string, error?: unknown) => void failures.push(error) };
}

/** A GET that gives up after 15 s: a hung request shows as status 0, never as a hung test. */
async function request(base: string, path: string, cookie: string | undefined): Promise<Reply> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<Reply>((resolve) => (timer = setTimeout(() => resolve({ status: 0, headers: {}, body: "no answer within 15 s" }), 15_000)));
  try {
    return await Promise.race([get(base, path, cookie === undefined ? {} : { Cookie: `sessionid=${cookie}` }), hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** One request of the load. `start`/`end` are positions on the load's event sequence. */
interface Outcome {
  readonly client: number;
  /** The session key the request wrote (`k`), and the value (`v`). */
  readonly write: string;
  readonly value: number;
  readonly status: number;
  readonly body: string;
  /** The cookie sent, and the one the client holds afterwards (a 200's Set-Cookie, else the same). */
  readonly cookieBefore: string | undefined;
  readonly cookieAfter: string | undefined;
  readonly setCookie: string | undefined;
  readonly start: number;
  readonly end: number;
}

/**
 * `CLIENTS` visitors, each sending one `/write` after another (its own new key each time) and
 * keeping the cookie it is given, until stopped. `pause()` parks every client between requests,
 * so the load is bounded and the phases are exact. Events (request start and end, `mark()`) are
 * numbered in one sequence, so "before/after the crash" is an order, not a time.
 */
class Load {
  readonly outcomes: Outcome[] = [];
  readonly cookies: (string | undefined)[] = Array.from({ length: CLIENTS }, () => undefined);
  #seq = 0;
  #inFlight = 0;
  #stopped = false;
  #gate: { promise: Promise<void>; open: () => void } | undefined;
  #waiters: { check: () => boolean; resolve: () => void }[] = [];
  #running: Promise<void> | undefined;

  constructor(private readonly base: string) {}

  start(): void {
    this.#running = Promise.all(Array.from({ length: CLIENTS }, (_, c) => this.#client(c))).then(() => undefined);
  }

  async #client(c: number): Promise<void> {
    for (let i = 0; ; i++) {
      while (this.#gate) await this.#gate.promise;
      if (this.#stopped) return;
      const write = `c${c}w${i}`;
      const cookieBefore = this.cookies[c];
      const start = ++this.#seq;
      this.#inFlight++;
      const reply = await request(this.base, `/write?k=${write}&v=${i}`, cookieBefore);
      this.#inFlight--;
      const setCookie = setCookieValue(reply);
      if (setCookie !== undefined && setCookie !== "") this.cookies[c] = setCookie;
      this.outcomes.push({
        client: c,
        write,
        value: i,
        status: reply.status,
        body: reply.body,
        cookieBefore,
        cookieAfter: this.cookies[c],
        setCookie,
        start,
        end: ++this.#seq,
      });
      this.#notify();
    }
  }

  #notify(): void {
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!waiter.check()) return true;
      waiter.resolve();
      return false;
    });
  }

  /** A position in the event sequence, taken now. */
  mark(): number {
    return ++this.#seq;
  }

  /** Resolves once `check()` holds (checked after every request); fails after 40 s saying `what`. */
  until(what: string, check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the load never reached: ${what} (${this.outcomes.length} requests so far)`)), 40_000);
      this.#waiters.push({ check, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  /** Parks every client before its next request and waits until none is in flight. */
  async pause(): Promise<void> {
    let open!: () => void;
    const promise = new Promise<void>((resolve) => (open = resolve));
    this.#gate = { promise, open };
    await this.until("no request in flight", () => this.#inFlight === 0);
  }

  resume(): void {
    const gate = this.#gate;
    this.#gate = undefined;
    gate?.open();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.resume();
    await this.#running;
  }

  /** Outcomes of requests that started after position `mark` (and ended before `before`, if given). */
  between(mark: number, before = Number.POSITIVE_INFINITY): Outcome[] {
    return this.outcomes.filter((o) => o.start > mark && o.end < before);
  }
}

const acked = (outcomes: readonly Outcome[]) => outcomes.filter((o) => o.status === 200);

/** The status and body every request of the load must end with: saved, or a clear 503. */
function expectOnlySavedOr503(load: Load): void {
  const unexpected = load.outcomes.filter(
    (o) => !(o.status === 200 && o.body === "saved") && !(o.status === 503 && o.body === "Service Unavailable" && o.setCookie === undefined),
  );
  expect(unexpected, "every request is a 200 'saved' or a 503 'Service Unavailable' without a cookie: never a 500, never a hang (status 0)").toEqual([]);
}

/** Every error the app logged is the store's BackendError (503), one per failed request. */
function expectBackendErrors(failures: readonly unknown[], backend: string, count: number): void {
  expect(failures).toHaveLength(count);
  for (const failure of failures) {
    expect(failure).toBeInstanceOf(BackendError);
    expect(failure).toMatchObject({ status: 503, code: "BACKEND_FAILURE", backend });
  }
}

/** What `/read` answers for a session cookie. */
async function readSession(base: string, cookie: string): Promise<Record<string, unknown>> {
  const reply = await request(base, "/read", cookie);
  expect(reply.status).toBe(200);
  return JSON.parse(reply.body) as Record<string, unknown>;
}

/** Where {@link loadThroughOutage} left the load, for each test's own checks of the data. */
interface OutageRun {
  readonly url: string;
  readonly load: Load;
  /** A position taken just before the outage began, and one just after the store came back. */
  readonly beforeOutage: number;
  readonly restartedAt: number;
  /** Client 0's cookie while the store was down. */
  readonly someCookie: string;
}

/**
 * The load through one outage of the store behind `sessions`: once every client has 3 writes
 * acknowledged, `outage.start()` (a "kill", a "crash"); once 40 requests started after it have
 * answered 503, a read and an untouched route while it is down; then, with the load paused,
 * `restart()`, and the load runs on until 100 writes are acknowledged after the restart. Checks
 * what every outage must give: only 200 "saved" or a clear 503, a 503 for every request while
 * the store was down, recovery without a new app, and a logged BackendError of `backend` per 503.
 */
async function loadThroughOutage(options: {
  readonly sessions: Sessions;
  readonly failures: readonly unknown[];
  readonly backend: string;
  readonly outage: { readonly word: string; start(): Promise<unknown> };
  restart(): Promise<unknown>;
}): Promise<OutageRun> {
  const { outage } = options;
  const server = await listen(app(options.sessions));
  cleanups.push(() => server.close());
  const load = new Load(server.url);
  cleanups.push(() => load.stop());

  load.start();
  await load.until("3 acknowledged writes per client", () => load.cookies.every((_, c) => acked(load.outcomes).filter((o) => o.client === c).length >= 3));
  const beforeOutage = load.mark();
  await outage.start();
  const down = load.mark();
  await load.until(`40 requests started after the ${outage.word} answered 503`, () => load.between(down).filter((o) => o.status === 503).length >= 40);

  // While the store is down: a request that needs the session is a 503, one that does not is a 200.
  const someCookie = load.cookies[0] as string;
  const read = await request(server.url, "/read", someCookie);
  expect([read.status, read.body, read.headers["set-cookie"]]).toEqual([503, "Service Unavailable", undefined]);
  const untouched = await request(server.url, "/health", someCookie);
  expect([untouched.status, untouched.body]).toEqual([200, "ok"]);

  await load.pause();
  await options.restart();
  const restartedAt = load.mark();
  load.resume();
  // Every client, too: on a loaded machine the fastest clients alone can reach 100, and the
  // tests below look at each client's writes after the restart.
  await load.until("100 writes acknowledged after the restart, some by every client", () => {
    const after = acked(load.between(restartedAt));
    return after.length >= 100 && load.cookies.every((_, c) => after.some((o) => o.client === c));
  });
  await load.stop();

  expectOnlySavedOr503(load);
  expect(load.outcomes.filter((o) => o.end < beforeOutage).every((o) => o.status === 200)).toBe(true);
  // Every request that started after the outage began and ended before the restart failed clearly.
  const whileDown = load.between(down, restartedAt);
  expect(whileDown.length).toBeGreaterThanOrEqual(40);
  expect(whileDown.filter((o) => o.status !== 503)).toEqual([]);
  // Recovery without restarting the app: once the backend has reconnected (its first 200),
  // every later request succeeds.
  const firstOk = Math.min(...acked(load.between(restartedAt)).map((o) => o.end));
  expect(load.between(firstOk).filter((o) => o.status !== 200)).toEqual([]);
  expectBackendErrors(options.failures, options.backend, load.outcomes.filter((o) => o.status === 503).length + 1); // + the /read above
  return { url: server.url, load, beforeOutage, restartedAt, someCookie };
}

describe("faults during a load of requests", () => {
  it("Redis killed (SIGKILL) and restarted on its port: 503 while down, the same app serves again, every write acknowledged after the restart is kept", async () => {
    const redis = await startRedis();
    let restarted: RedisServer | undefined;
    cleanups.push(
      () => redis.stop(),
      () => restarted?.stop() ?? Promise.resolve(),
    );
    const logger = failureLogger();
    const sessions = createSessions({ backend: cacheBackend({ url: redis.url, timeout: 500 }), cookie: { secure: false }, logger });
    cleanups.push(() => sessions.close());
    const { url, load, beforeOutage, restartedAt, someCookie } = await loadThroughOutage({
      sessions,
      failures: logger.failures,
      backend: "redis",
      outage: { word: "kill", start: () => redis.kill() },
      restart: async () => (restarted = await startRedis({ port: redis.port })),
    });

    // The helper runs Redis without persistence (no RDB, no AOF), so a killed Redis comes back
    // empty: data acknowledged before the crash existed only in the dead process's memory, and
    // no session layer can bring it back. What Tessera must do is treat the old cookies as
    // unknown sessions (empty, and a new key on the next save) and lose nothing acknowledged
    // since: so each client got exactly one new session after the restart, holding exactly the
    // writes acknowledged under it.
    const preCrashKeys = new Set(load.outcomes.filter((o) => o.end < beforeOutage).map((o) => o.cookieAfter));
    expect(await readSession(url, someCookie)).toEqual({});
    const afterRestart = acked(load.between(restartedAt));
    const newKeys = new Set(afterRestart.map((o) => o.cookieAfter as string));
    expect(newKeys.size).toBe(CLIENTS);
    for (const key of newKeys) {
      expect(preCrashKeys.has(key)).toBe(false);
      const expected = Object.fromEntries(
        acked(load.outcomes)
          .filter((o) => o.cookieAfter === key)
          .map((o) => [o.write, o.value]),
      );
      expect(await readSession(url, key)).toEqual(expected);
    }
  }, 60_000);

  it("PostgreSQL crashed (immediate shutdown) and restarted on its port and data directory: 503 while down, recovery without a new backend, no acknowledged write lost", async () => {
    const postgres = await startPostgres("tessera_faults");
    cleanups.push(() => postgres.stop());
    // The helper runs PostgreSQL with fsync=off and synchronous_commit=off for speed. fsync=off
    // only matters if the operating system crashes: a killed server's WAL writes are already in
    // the OS page cache, which survives the process, and crash recovery replays them on restart.
    // synchronous_commit=off, though, acknowledges a COMMIT before its WAL record leaves the
    // server's shared memory, so a crash could lose the last acknowledged commits. This database
    // turns it back on (a per-database setting overrides the server's command line), so "200"
    // means "in the WAL", which is what the app relies on in production.
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    try {
      await admin.query("ALTER DATABASE tessera_faults SET synchronous_commit = on");
    } finally {
      await admin.end();
    }
    const logger = failureLogger();
    const backend = databaseBackend({ url: postgres.url, connectTimeoutMs: 2000 });
    const sessions = createSessions({ backend, cookie: { secure: false }, logger });
    cleanups.push(() => sessions.close());
    await sessions.migrate();
    const { url, load } = await loadThroughOutage({
      sessions,
      failures: logger.failures,
      backend: "postgres",
      outage: { word: "crash", start: () => postgres.crash() },
      restart: () => postgres.restart(),
    });

    // Durable: each client kept the one session it had before the crash (a lost row would have
    // made the next write start a new session with a new cookie), and that session holds every
    // write acknowledged with a 200, before or after the crash. A write that answered 503 may
    // or may not be there (the crash can come between the COMMIT and its reply), nothing else.
    for (let c = 0; c < CLIENTS; c++) {
      const mine = load.outcomes.filter((o) => o.client === c);
      const keys = new Set(mine.filter((o) => o.status === 200).map((o) => o.cookieAfter));
      expect(keys.size, `client ${c} kept one session`).toBe(1);
      const stored = await readSession(url, load.cookies[c] as string);
      for (const o of mine) {
        if (o.status === 200) expect(stored[o.write], `client ${c}'s acknowledged ${o.write}`).toBe(o.value);
        else if (o.write in stored) expect(stored[o.write]).toBe(o.value);
      }
      expect(Object.keys(stored).every((name) => mine.some((o) => o.write === name))).toBe(true);
    }
    const check = new pg.Client({ connectionString: postgres.url });
    await check.connect();
    try {
      expect((await check.query("SELECT COUNT(*)::int AS n FROM tessera_sessions")).rows).toEqual([{ n: CLIENTS }]);
    } finally {
      await check.end();
    }
  }, 60_000);
});

describe("kill -9 in the middle of file-backend writes", () => {
  const SESSIONS = 6;
  const BYTES = 200_000;
  const ROUNDS = 4;
  const writer = fileURLToPath(new URL("./file-writer.ts", import.meta.url));
  const letter = (n: number) => String.fromCharCode(97 + (n % 26));

  /** A file's content must be a whole record whose data is one whole save of file-writer.ts. */
  function parseRecord(name: string, text: string): { i: number; n: number } {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      throw new Error(`${name} is torn (${text.length} bytes): ${String(error)}`);
    }
    expect(Object.keys(record)).toEqual(["data", "expiresAt", "version", "userId", "createdAt", "updatedAt"]);
    const data = JSON.parse(record["data"] as string) as { i: number; n: number; blob: string };
    expect(Object.keys(data).sort()).toEqual(["blob", "i", "n"]);
    expect(data.blob === letter(data.n).repeat(BYTES), `${name}: the blob of save ${data.n} is whole`).toBe(true);
    return { i: data.i, n: data.n };
  }

  /** A started file-writer.ts, loaded and waiting for `go()`. */
  function startWriter(directory: string, keys: readonly string[]) {
    const child = spawn(process.execPath, ["--import", register, writer, directory, String(BYTES), ...keys], { stdio: ["pipe", "pipe", "pipe"] });
    cleanups.push(async () => child.kill("SIGKILL"));
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const closed = new Promise<NodeJS.Signals | null>((resolve) => child.on("close", (_code, signal) => resolve(signal)));
    let killed = false;
    const exitedEarly = closed.then(() => {
      if (!killed) throw new Error(`file-writer.ts exited by itself: ${stderr}`);
    });
    exitedEarly.catch(() => {}); // heard by the races below; after the kill it is expected
    const acknowledged = new Map<number, number>();
    const errors: string[] = [];
    let saves = 0;
    let onLine = () => {};
    let ready = false;
    createInterface({ input: child.stdout }).on("line", (line) => {
      const [word, i, n] = line.split(" ");
      if (word === "ready") ready = true;
      else if (word === "saved") {
        acknowledged.set(Number(i), Number(n));
        saves++;
      } else if (word === "error") errors.push(line);
      onLine();
    });
    const when = (check: () => boolean) => Promise.race([new Promise<void>((resolve) => (onLine = () => void (check() && resolve()))), exitedEarly]);
    return {
      ready: when(() => ready),
      /**
       * Lets it write; at a random moment (after 2 to 20 acknowledged saves, at the first
       * instant a lock file exists, so a dead holder's lock is left behind) kills it with SIGKILL.
       * Resolves to what it acknowledged.
       */
      async runAndKill(): Promise<{ acknowledged: Map<number, number>; errors: string[] }> {
        const target = 2 + Math.floor(Math.random() * 19);
        const reached = when(() => saves >= target);
        child.stdin.write("go\n");
        await reached;
        for (let spins = 0; spins < 10_000; spins++) {
          if ((await readdir(directory)).some((name) => name.endsWith(".lock"))) break;
        }
        killed = true;
        child.kill("SIGKILL");
        expect(await closed).toBe("SIGKILL");
        return { acknowledged, errors };
      },
    };
  }

  it(`${ROUNDS} kills of a process writing ${BYTES / 1000} kB sessions: no torn file, no acknowledged save lost, stale locks broken, debris cleared`, async () => {
    const directory = await mkdtemp(join(tmpdir(), "tessera-file-faults-"));
    cleanups.push(() => rm(directory, { recursive: true, force: true }));
    const backend = fileBackend({ directory });
    // A lock left by a killed process is broken once it is 5 s old; the default 5 s
    // backendTimeoutMs would give up on that session just before.
    const sessions = createSessions({ backend, backendTimeoutMs: 10_000, logger: { warn: () => {}, error: () => {} } });
    const keys: string[] = [];
    for (let i = 0; i < SESSIONS; i++) {
      const session = sessions.open();
      await session.update({ i, n: 0, blob: letter(0).repeat(BYTES) });
      await sessions.commit(session, 200);
      keys.push(session.sessionKey as string);
    }
    const fileOf = new Map<string, number>(); // file name -> session index, learnt from the files

    let locksLeft = 0;
    const latest = new Map<number, number>(keys.map((_, i) => [i, 0]));
    // Loading a child through the TypeScript hooks takes seconds: load them all first.
    const writers = Array.from({ length: ROUNDS }, () => startWriter(directory, keys));
    await Promise.all(writers.map((w) => w.ready));
    for (let round = 1; round <= ROUNDS; round++) {
      const { acknowledged, errors } = await (writers[round - 1] as ReturnType<typeof startWriter>).runAndKill();
      expect(errors, `round ${round}: the writer's own failures`).toEqual([]);
      for (const [i, n] of acknowledged) latest.set(i, n);

      const names = await readdir(directory);
      locksLeft += names.filter((name) => name.endsWith(".lock")).length;
      const sessionFiles = names.filter((name) => name.endsWith(".session"));
      expect(sessionFiles).toHaveLength(SESSIONS);
      expect(
        names.every((name) => /^[0-9a-f]{64}(\.session|\.lock|\.[0-9a-f]{12}\.tmp)$/.test(name)),
        names.join(", "),
      ).toBe(true);
      for (const name of sessionFiles) {
        const { i, n } = parseRecord(`round ${round}: ${name}`, await readFile(join(directory, name), "utf8"));
        fileOf.set(name, i);
        // Acknowledged means renamed into place: the file holds that save, or the one in flight.
        expect([latest.get(i), (latest.get(i) as number) + 1], `round ${round}: session ${i}`).toContain(n);
        latest.set(i, n);
      }
      if (round < ROUNDS) {
        // The next writer would wait the 5 s it takes a dead holder's lock to go stale: let that
        // time pass on the files (the last round's locks below age for real).
        const old = new Date(Date.now() - 10_000);
        for (const name of names.filter((n) => n.endsWith(".lock"))) await utimes(join(directory, name), old, old).catch(() => undefined);
      }
    }
    // The kill lands while a lock is held, so dead holders' locks were left behind.
    expect(locksLeft).toBeGreaterThan(0);

    // The backend loads every session and saves it again, breaking any stale lock on the way.
    await Promise.all(
      keys.map(async (key, i) => {
        const session = sessions.open(key);
        const data = await session.load();
        expect([data["i"], data["n"], data["blob"] === letter(latest.get(i) as number).repeat(BYTES)]).toEqual([i, latest.get(i), true]);
        await session.update({ n: (latest.get(i) as number) + 1, blob: "done" });
        await sessions.commit(session, 200);
        expect(session.sessionKey).toBe(key);
      }),
    );
    for (const [i, key] of keys.entries()) expect({ ...(await sessions.open(key).load()) }).toEqual({ i, n: (latest.get(i) as number) + 1, blob: "done" });

    // What is left is crash debris: temp files of interrupted writes (no lock survives a save).
    // clearExpired removes temp files once they are a minute old; age them, as time would.
    const debris = (await readdir(directory)).filter((name) => !name.endsWith(".session"));
    expect(debris.filter((name) => name.endsWith(".lock"))).toEqual([]);
    const old = new Date(Date.now() - 120_000);
    for (const name of debris) await utimes(join(directory, name), old, old);
    expect(await backend.clearExpired(Date.now())).toBe(0); // no session was expired or unreadable
    expect((await readdir(directory)).sort()).toEqual([...fileOf.keys()].sort());
  }, 60_000);
});

describe("memory under a long fuzz run", () => {
  it("20 000 hostile requests through tessera-sessions/node on memoryBackend({ maxEntries: 1000 }): heap after GC grows by less than 10 MB from request 5 000 to 20 000", async () => {
    const fuzz = fileURLToPath(new URL("./memory-fuzz.ts", import.meta.url));
    const seed = Math.floor(Math.random() * 2 ** 31);
    const child = spawn(process.execPath, ["--expose-gc", "--import", register, fuzz, "20000", "5000", String(seed)], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code, `memory-fuzz.ts (seed ${seed}) failed: ${stderr}`).toBe(0);
    const report = JSON.parse(stdout.trim()) as { statuses: Record<string, number>; requests: number; atCheckpoint: number; atEnd: number };
    expect(report.requests).toBe(20_000);
    // Every request got an answer: a 200 (empty or own session) or a 4xx from Node's parser
    // (control characters, an oversize header), never a 5xx, never a dropped connection (0).
    expect(
      Object.values(report.statuses).reduce((a, b) => a + b, 0),
      `seed ${seed}`,
    ).toBe(20_000);
    expect(
      Object.keys(report.statuses).filter((status) => !(status === "200" || (Number(status) >= 400 && Number(status) < 500))),
      `seed ${seed}`,
    ).toEqual([]);
    expect(report.statuses["200"]).toBeGreaterThan(15_000);
    const growth = report.atEnd - report.atCheckpoint;
    expect(growth, `seed ${seed}: heapUsed ${report.atCheckpoint} at 5 000 requests, ${report.atEnd} at 20 000`).toBeLessThan(10 * 1024 * 1024);
  }, 60_000);
});
