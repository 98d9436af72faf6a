/**
 * A throwaway PostgreSQL server for tests: its own data directory in /tmp, a free loopback
 * port, a unix socket inside that directory, durability off for speed. Nothing is shared with
 * a system installation, and `stop()` leaves nothing behind.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import pg from "pg";
import { freePort, isPortClash, onExit, runOrFail, serverFailure, waitFor } from "./util.js";

/** A running test server. */
export interface TestServer {
  /** A URL for a fresh, empty database on it. */
  readonly url: string;
  /** Stops the server and removes its files. */
  stop(): Promise<void>;
}

/** A test server that can also crash and come back, for fault tests. */
export interface RestartableServer extends TestServer {
  /**
   * PostgreSQL's "immediate" shutdown (SIGQUIT to the postmaster): every process exits at once,
   * with no checkpoint, as in a crash; the data directory stays for `restart()`.
   */
  crash(): Promise<void>;
  /** Starts the server again on the same port and data directory (running crash recovery). */
  restart(): Promise<void>;
}

/**
 * Where `initdb` and `postgres` are: $TESSERA_PG_BIN if set, else Debian's per-version directory
 * (they are not on PATH there), else PATH (Homebrew, Fedora…).
 */
export function findBinDir(): string {
  const hint = "Install them with: apt-get install postgresql (or point TESSERA_PG_BIN at the directory holding initdb)";
  const override = process.env["TESSERA_PG_BIN"];
  if (override !== undefined && override !== "") {
    if (!existsSync(join(override, "initdb"))) throw new Error(`TESSERA_PG_BIN=${override} holds no initdb. ${hint}`);
    return override;
  }
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, "bin", "initdb"))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (newest !== undefined) return join(root, newest, "bin");
  const onPath = (process.env["PATH"] ?? "").split(delimiter).find((dir) => dir !== "" && existsSync(join(dir, "initdb")));
  if (onPath !== undefined) return onPath;
  throw new Error(`PostgreSQL server binaries (initdb, postgres) not found in ${root}/*/bin or on PATH. ${hint}`);
}

/** initdb and postgres refuse to run as root; as root we run them as the `postgres` user. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("postgres:"));
  const [, , uid, gid] = line?.split(":") ?? [];
  if (uid === undefined || gid === undefined)
    throw new Error("Running as root, but there is no `postgres` user to run PostgreSQL as. Install it with: apt-get install postgresql");
  return { uid: Number(uid), gid: Number(gid) };
}

/** Runs one statement as the superuser over the unix socket in `dir`. */
async function adminQuery(dir: string, port: number, sql: string): Promise<void> {
  const client = new pg.Client({ host: dir, port, user: "postgres", database: "postgres", connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query(sql);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Starts a fresh PostgreSQL server with a database named `database`. */
export async function startPostgres(database = "tessera_test"): Promise<RestartableServer> {
  const bin = findBinDir();
  const user = serverUser();
  const dir = mkdtempSync(join(tmpdir(), "tessera-pg-"));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  let child: ChildProcess | undefined;
  const disposeOnExit = onExit(() => {
    child?.kill("SIGKILL");
    removeDir();
  });
  try {
    if (user) chownSync(dir, user.uid, user.gid);
    const data = join(dir, "data");
    runOrFail(join(bin, "initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "--no-instructions", "-E", "UTF8", "--locale=C"], user);

    /** Starts postgres on `port` and waits until it answers; `log` says why if it does not. */
    const launch = async (port: number, log: string[]): Promise<void> => {
      // Durability off: a test database is thrown away, and fsync dominates start-up and writes.
      const settings = [
        "fsync=off",
        "synchronous_commit=off",
        "full_page_writes=off",
        "listen_addresses=127.0.0.1",
        `port=${port}`,
        `unix_socket_directories=${dir}`,
        "max_connections=50",
        "shared_buffers=16MB",
      ];
      child = spawn(join(bin, "postgres"), ["-D", data, ...settings.flatMap((s) => ["-c", s])], { ...user, stdio: ["ignore", "pipe", "pipe"] });
      const started = child;
      started.stdout?.on("data", (chunk: Buffer) => log.push(chunk.toString()));
      started.stderr?.on("data", (chunk: Buffer) => log.push(chunk.toString()));
      const exited = new Promise<never>((_, reject) => started.once("exit", (code) => reject(serverFailure("PostgreSQL", code, log))));
      exited.catch(() => {}); // only start-up cares; a stop() later must not be an unhandled rejection
      // Probe through our own socket directory, so an answer can only come from this server
      // (which binds TCP before it creates the socket).
      await waitFor("PostgreSQL", exited, log, () => adminQuery(dir, port, "SELECT 1"));
    };

    // The port may be taken between freePort() and the bind: then try another one.
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const log: string[] = [];
      try {
        await launch(port, log);
        break;
      } catch (error) {
        if (attempt >= 3 || !isPortClash(log)) throw error;
      }
    }
    await adminQuery(dir, port, `CREATE DATABASE ${database}`);

    /** Waits until the current server process has exited, sending it `signal` first. */
    const end = async (signal: NodeJS.Signals) => {
      const server = child as ChildProcess;
      const gone = new Promise((resolve) => server.once("exit", resolve));
      if (server.exitCode === null && server.signalCode === null) {
        server.kill(signal);
        const timer = setTimeout(() => server.kill("SIGKILL"), 10_000);
        await gone;
        clearTimeout(timer);
      }
    };
    return {
      url: `postgres://postgres@127.0.0.1:${port}/${database}`,
      crash: () => end("SIGQUIT"),
      async restart() {
        const log: string[] = [];
        try {
          await launch(port, log);
        } catch (error) {
          child?.kill("SIGKILL");
          throw error;
        }
      },
      async stop() {
        // SIGINT is PostgreSQL's "fast" shutdown: it ends sessions and exits at once.
        await end("SIGINT");
        removeDir();
        disposeOnExit();
      },
    };
  } catch (error) {
    child?.kill("SIGKILL");
    removeDir();
    disposeOnExit();
    throw error;
  }
}

/** PostgreSQL's admin_shutdown: what an open connection hears when the test server stops. */
const ADMIN_SHUTDOWN = "57P01";

/**
 * A pool the test opens itself, as an app would: with an "error" listener (an idle connection
 * that fails makes the pool emit one, and unheard it is an unhandled error that fails the run)
 * that tolerates only the server's shutdown notice and keeps anything else for `end()` to throw.
 */
export function testPgPool(config: pg.PoolConfig) {
  const pool = new pg.Pool(config);
  const unexpected: Error[] = [];
  pool.on("error", (error: Error & { code?: string }) => {
    if (error.code !== ADMIN_SHUTDOWN) unexpected.push(error);
  });
  return {
    pool,
    /**
     * Ends the pool and waits until every connection is closed: pool.end() alone resolves as soon
     * as it has asked them to close, so the server could stop under them (57P01) a moment later.
     */
    async end() {
      let open = pool.totalCount;
      const closed = new Promise<void>((resolve) => {
        if (open === 0) resolve();
        pool.on("remove", () => {
          if (--open === 0) resolve();
        });
      });
      await pool.end();
      await closed;
      if (unexpected.length > 0) throw new AggregateError(unexpected, "the test's pg pool reported errors");
    },
  };
}
