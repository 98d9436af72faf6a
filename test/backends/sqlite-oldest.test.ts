/**
 * The oldest better-sqlite3 the peer range allows (`>=11 <14`): the backend suite on a Database
 * from better-sqlite3 11, installed from the registry into a temporary directory and compiled
 * from source (its prebuilt binaries are downloaded from GitHub, which CI cannot reach), passed
 * as `databaseBackend({ client })`. The repo's dev dependency (12) is what memory-sqlite.test.ts
 * uses; 13 is exercised from the packed tarball in package.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { databaseBackend } from "tessera-sessions/backends/db";
import { runBackendSuite } from "tessera-sessions/testing";
import { installPeers, type PeerInstall } from "../peer-install.js";

// Compiling SQLite (unoptimised) takes about half a minute of one core, minutes on a busy machine.
vi.setConfig({ hookTimeout: 480_000 });

interface Database {
  close(): void;
  prepare(sql: string): { get(): unknown };
}

let peers: PeerInstall;
let Database: new (file: string) => Database;
beforeAll(async () => {
  peers = await installPeers(["better-sqlite3@11"], { buildFromSource: true });
  Database = (await peers.load<{ default: typeof Database }>("better-sqlite3")).default;
});
afterAll(() => peers?.remove());

describe("better-sqlite3 11", () => {
  it("is the version asked for, built here, not the repo's own", async () => {
    expect(peers.version("better-sqlite3").split(".")[0]).toBe("11");
    expect(Database).not.toBe((await import("better-sqlite3")).default);
    const db = new Database(":memory:");
    expect(db.prepare("SELECT 1 AS one").get()).toEqual({ one: 1 });
    db.close();
  });
});

const open = new Map<unknown, Database>();
runBackendSuite({
  name: "sqlite through a better-sqlite3 11 Database",
  create: () => {
    const db = new Database(":memory:");
    const backend = databaseBackend({ client: db });
    open.set(backend, db);
    return backend;
  },
  userIndex: true,
  listing: true,
  // Tessera does not close a client it was given: the test does.
  cleanup: async (backend) => {
    await backend.close?.();
    open.get(backend)?.close();
    open.delete(backend);
  },
  describe,
  it,
});
