// The stores the benchmarks need, started on loopback for the run and removed afterwards:
// redis-server (no persistence) and a throwaway PostgreSQL cluster (initdb as the postgres user,
// with pg_stat_statements loaded and created in the `bench` database when asked for).
// Shared by run.mjs, profile.mjs and scale/run.mjs.
import { spawn, execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, chmodSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export const REDIS_PORT = 6399;
export const PG_PORT = 5499;

/** Child processes to kill if the run dies. */
export const children = new Set();
function cleanup() {
  for (const c of children) {
    try {
      c.kill("SIGTERM");
    } catch {}
  }
}
process.on("exit", cleanup);
process.on("SIGINT", () => {
  cleanup();
  process.exit(130);
});

/** Debian's package for each command the benchmarks run. */
const PACKAGES = { wrk: "wrk", "redis-server": "redis-server", taskset: "util-linux", initdb: "postgresql" };

/**
 * Stops the run at once, naming what to install, when a command it needs is missing (instead of
 * failing minutes in). initdb is looked for where Debian's postgresql puts it.
 */
export function requireCommands(commands) {
  const missing = commands.filter((cmd) =>
    cmd === "initdb"
      ? spawnSync("bash", ["-c", "ls /usr/lib/postgresql/*/bin/initdb"], { stdio: "ignore" }).status !== 0
      : spawnSync("bash", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status !== 0,
  );
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((cmd) => PACKAGES[cmd] ?? cmd))].join(" ");
  console.error(`The benchmark needs ${missing.join(", ")}, not found. On Debian or Ubuntu: sudo apt-get install -y ${packages}`);
  process.exit(1);
}

export function sh(cmd, args) {
  return execFileSync(cmd, args, { encoding: "utf8" }).trim();
}
async function portOpen(port) {
  const net = await import("node:net");
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}
export async function waitPort(port, what, tries = 100) {
  for (let i = 0; i < tries; i++) {
    if (await portOpen(port)) return;
    await sleep(100);
  }
  throw new Error(`${what} did not open port ${port}`);
}

/** A store's port must be free: otherwise waitPort would happily find someone else's server. */
async function assertPortFree(port, what) {
  if (await portOpen(port)) throw new Error(`port ${port} is already in use (another ${what}, e.g. a concurrent bench or scale run?)`);
}

// ---- the stores ---------------------------------------------------------------------------
export async function startRedis() {
  await assertPortFree(REDIS_PORT, "redis-server");
  const dir = mkdtempSync(join(tmpdir(), "bench-redis-"));
  const p = spawn("redis-server", ["--port", String(REDIS_PORT), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], { stdio: "ignore" });
  children.add(p);
  await waitPort(REDIS_PORT, "redis-server");
  return async () => {
    p.kill("SIGTERM");
    children.delete(p);
    await sleep(200);
    rmSync(dir, { recursive: true, force: true });
  };
}
/** statStatements: load pg_stat_statements (run.mjs counts statements per server with it). */
export async function startPostgres({ statStatements = false, settings = {} } = {}) {
  await assertPortFree(PG_PORT, "PostgreSQL");
  const bin = sh("bash", ["-c", "ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1"]);
  const dir = mkdtempSync(join(tmpdir(), "bench-pg-"));
  chmodSync(dir, 0o777);
  const data = join(dir, "data");
  sh("chown", ["postgres", dir]);
  execFileSync("runuser", ["-u", "postgres", "--", `${bin}/initdb`, "-D", data, "--auth=trust", "-U", "postgres"], { stdio: "ignore" });
  const p = spawn(
    "runuser",
    [
      "-u",
      "postgres",
      "--",
      `${bin}/postgres`,
      "-D",
      data,
      "-p",
      String(PG_PORT),
      "-k",
      dir,
      "-c",
      "listen_addresses=127.0.0.1",
      ...Object.entries(settings).flatMap(([name, value]) => ["-c", `${name}=${value}`]),
      ...(statStatements
        ? ["-c", "shared_preload_libraries=pg_stat_statements", "-c", "pg_stat_statements.track=top", "-c", "pg_stat_statements.track_utility=on"]
        : []),
    ],
    { stdio: "ignore" },
  );
  children.add(p);
  await waitPort(PG_PORT, "postgres", 200);
  for (let i = 0; i < 50; i++) {
    const r = spawnSync("runuser", ["-u", "postgres", "--", `${bin}/createdb`, "-h", "127.0.0.1", "-p", String(PG_PORT), "bench"]);
    if (r.status === 0) break;
    await sleep(200);
  }
  if (statStatements)
    execFileSync(
      "runuser",
      [
        "-u",
        "postgres",
        "--",
        `${bin}/psql`,
        "-h",
        "127.0.0.1",
        "-p",
        String(PG_PORT),
        "-d",
        "bench",
        "-qAtc",
        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements",
      ],
      { stdio: "ignore" },
    );
  // Tessera's PostgreSQL table comes from its migrations (as `tessera migrate` would run them).
  return async () => {
    p.kill("SIGTERM");
    children.delete(p);
    for (let i = 0; i < 50 && p.exitCode === null; i++) await sleep(100);
    rmSync(dir, { recursive: true, force: true });
  };
}
