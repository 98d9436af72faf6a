import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

// The suite's own entry check (test/preflight.ts): a machine without one of the servers gets one
// message naming the install command, and a failed run, before any test starts.
describe("the test suite on a machine that lacks a server", () => {
  it("stops before any test with one message naming what is missing and the command that installs it", () => {
    const run = spawnSync(process.execPath, ["node_modules/vitest/vitest.mjs", "run", "test/exports.test.ts"], {
      encoding: "utf8",
      env: { ...process.env, TESSERA_PG_BIN: "/nonexistent", TESSERA_TEST_NO_INSTALL: "1", NO_COLOR: "1", FORCE_COLOR: "0" },
      timeout: 60_000,
    });
    const output = run.stdout + run.stderr;
    expect(run.status).toBe(1);
    expect(output).toContain("this machine lacks some:\n  - PostgreSQL: TESSERA_PG_BIN=/nonexistent holds no initdb.");
    expect(output).toContain(
      "sudo apt-get update && sudo apt-get install -y --no-install-recommends postgresql mariadb-server redis-server memcached chromium python3-django python3-psycopg2 python3-mysqldb",
    );
    expect(output).not.toContain("✓"); // no test ran
  }, 60_000);
});
