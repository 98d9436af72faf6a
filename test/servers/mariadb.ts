/**
 * A throwaway MariaDB server for tests: its own data directory in /tmp, a free loopback port,
 * a unix socket inside that directory, durability off for speed, root with an empty password.
 * Nothing is shared with a system installation, and `stop()` leaves nothing behind.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mysql from "mysql2/promise";
import type { TestServer } from "./postgres.js";
import { freePort, isPortClash, onExit, runOrFail, serverFailure, waitFor } from "./util.js";

export type { TestServer } from "./postgres.js";

/** The first of `names` found, or an error naming the package to install. */
export function findMariadbBinary(names: readonly string[]): string {
  const dirs = ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", ...(process.env["PATH"] ?? "").split(":")];
  for (const name of names) for (const dir of dirs) if (dir !== "" && existsSync(join(dir, name))) return join(dir, name);
  throw new Error(`MariaDB server binaries not found (${names.join(" or ")}). Install them with: apt-get install mariadb-server`);
}

/**
 * Server flags. `--no-defaults` must come first, or the packaged my.cnf points the socket at a
 * directory that does not exist here. mariadbd refuses to run as root unless told to.
 */
function baseArgs(data: string, dir: string): string[] {
  const asRoot = process.getuid?.() === 0 ? ["--user=root"] : [];
  return ["--no-defaults", `--datadir=${data}`, ...asRoot, `--tmpdir=${dir}`, "--skip-name-resolve"];
}

/**
 * Durability off for the running server: a test database is thrown away, and flushing
 * dominates writes. (Not for mariadb-install-db: its bootstrap must shut down cleanly.)
 */
const FAST = ["--skip-log-bin", "--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0", "--innodb-buffer-pool-size=32M", "--innodb-fast-shutdown=2"];

/** Starts a fresh MariaDB server with a database named `database`. */
export async function startMariadb(database = "tessera_test"): Promise<TestServer> {
  const installDb = findMariadbBinary(["mariadb-install-db", "mysql_install_db"]);
  const mariadbd = findMariadbBinary(["mariadbd", "mysqld"]);
  const dir = mkdtempSync(join(tmpdir(), "tessera-mariadb-"));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  let child: ChildProcess | undefined;
  const disposeOnExit = onExit(() => {
    child?.kill("SIGKILL");
    removeDir();
  });
  try {
    const data = join(dir, "data");
    // "normal" authentication: root logs in over TCP with an empty password.
    runOrFail(installDb, [...baseArgs(data, dir), "--auth-root-authentication-method=normal", "--skip-test-db"]);

    // The port may be taken between freePort() and the bind: then try another one.
    const socketPath = join(dir, "mysqld.sock");
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const log: string[] = [];
      const network = ["--bind-address=127.0.0.1", `--port=${port}`, `--socket=${socketPath}`, `--pid-file=${join(dir, "mysqld.pid")}`];
      child = spawn(mariadbd, [...baseArgs(data, dir), ...FAST, ...network], { stdio: ["ignore", "pipe", "pipe"] });
      const started = child;
      started.stdout?.on("data", (chunk: Buffer) => log.push(chunk.toString()));
      started.stderr?.on("data", (chunk: Buffer) => log.push(chunk.toString()));
      const exited = new Promise<never>((_, reject) => started.once("exit", (code) => reject(serverFailure("MariaDB", code, log))));
      exited.catch(() => {}); // only start-up cares; a stop() later must not be an unhandled rejection
      try {
        // Probe through our own socket, so an answer can only come from this server (which
        // binds TCP before it creates the socket).
        await waitFor("MariaDB", exited, log, async () => {
          const connection = await mysql.createConnection({ socketPath, user: "root", connectTimeout: 1000 });
          await connection.end();
        });
        break;
      } catch (error) {
        if (attempt >= 3 || !isPortClash(log)) throw error;
      }
    }
    const connection = await mysql.createConnection({ socketPath, user: "root" });
    await connection.query(`CREATE DATABASE ${database} CHARACTER SET utf8mb4`);
    await connection.end();

    const server = child as ChildProcess;
    return {
      url: `mysql://root@127.0.0.1:${port}/${database}`,
      async stop() {
        const gone = new Promise((resolve) => server.once("exit", resolve));
        if (server.exitCode === null && server.signalCode === null) {
          server.kill("SIGTERM"); // with innodb-fast-shutdown=2 this takes about a second
          const timer = setTimeout(() => server.kill("SIGKILL"), 15_000);
          await gone;
          clearTimeout(timer);
        }
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
