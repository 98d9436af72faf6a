/**
 * vitest globalSetup: before any test runs, checks that the machine has every server and tool
 * the suite starts (it starts them itself, on loopback). On a fresh Debian machine as root (a CI
 * box, a container) it installs what is missing with apt-get, so `npm test` is the only set-up
 * step; anywhere else, or with TESSERA_TEST_NO_INSTALL=1, anything missing fails the run with one
 * message naming the install command, instead of one connection error per test file.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { findBinary } from "./servers/daemon.js";
import { findMariadbBinary } from "./servers/mariadb.js";
import { findBinDir } from "./servers/postgres.js";

// What test/browser.ts launches and what test/django/harness.ts runs (not imported here: both
// load vitest's test API, which a globalSetup file must not).
const CHROMIUM = "/usr/bin/chromium";
const PYTHON = "/usr/bin/python3";

const PACKAGES = readFileSync(new URL("./servers/debian-packages", import.meta.url), "utf8")
  .trim()
  .split(/\s+/);

function missingParts(): string[] {
  const checks: [string, () => unknown][] = [
    ["PostgreSQL", findBinDir],
    ["MariaDB", () => findMariadbBinary(["mariadbd", "mysqld"])],
    ["Redis", () => findBinary("redis-server", "redis-server")],
    ["redis-cli", () => findBinary("redis-cli", "redis-tools")],
    ["memcached", () => findBinary("memcached", "memcached")],
    [
      "Chromium",
      () => {
        if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found. Install it with: apt-get install chromium`);
      },
    ],
    [
      "Django",
      () => {
        const probe = spawnSync(PYTHON, ["-c", "import django, psycopg2, MySQLdb"], { encoding: "utf8" });
        if (probe.status !== 0)
          throw new Error(`${PYTHON} lacks Django or its database drivers. Install them with: apt-get install python3-django python3-psycopg2 python3-mysqldb`);
      },
    ],
  ];
  const missing: string[] = [];
  for (const [name, check] of checks) {
    try {
      check();
    } catch (error) {
      missing.push(`  - ${name}: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
    }
  }
  return missing;
}

/** Installs the suite's Debian packages, when this is a Debian machine and we may. */
function installWithApt(): boolean {
  if (process.getuid?.() !== 0 || !existsSync("/usr/bin/apt-get") || process.env["TESSERA_TEST_NO_INSTALL"] === "1") return false;
  console.log(`[tessera tests] Installing the servers the suite starts: apt-get install ${PACKAGES.join(" ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const update = spawnSync("apt-get", ["update", "-q"], { stdio: "inherit", env });
  const install = update.status === 0 && spawnSync("apt-get", ["install", "-y", "-q", "--no-install-recommends", ...PACKAGES], { stdio: "inherit", env });
  return install !== false && install.status === 0;
}

export function setup(): void {
  let missing = missingParts();
  if (missing.length > 0 && installWithApt()) missing = missingParts();
  if (missing.length === 0) return;
  const error = new Error(
    `The test suite starts real servers and a browser, and this machine lacks some:\n${missing.join("\n")}\n` +
      `On Debian or Ubuntu, install everything it needs with:\n  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${PACKAGES.join(" ")}\n` +
      `(As root on Debian, npm test does that itself unless TESSERA_TEST_NO_INSTALL=1.)`,
  );
  error.stack = error.message; // the message is the whole story; a stack would only bury it
  throw error;
}
