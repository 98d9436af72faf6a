import { describe, it } from "vitest";
import { databaseBackend } from "tessera/backends/db";
import { memoryBackend } from "tessera/backends/memory";
import { runBackendSuite } from "tessera/testing";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

runBackendSuite({ name: "memory", create: () => memoryBackend(), userIndex: true, listing: true, describe, it });
runBackendSuite({ name: "sqlite :memory:", create: () => databaseBackend({ url: "sqlite::memory:" }), userIndex: true, listing: true, describe, it });

const dirs: string[] = [];
runBackendSuite({
  name: "sqlite file",
  create: () => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-sqlite-"));
    dirs.push(dir);
    return databaseBackend({ url: `sqlite:${join(dir, "sessions.sqlite3")}` });
  },
  userIndex: true,
  listing: true,
  cleanup: async (backend) => {
    await backend.close?.();
    rmSync(dirs.pop() as string, { recursive: true, force: true });
  },
  describe,
  it,
});
