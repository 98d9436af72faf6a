/**
 * The concurrency suite (test/hardening/concurrency.suite.ts) on the in-process stores:
 * memory, and SQLite in a file. Other backends plug into the same suite.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { databaseBackend } from "tessera-sessions/backends/db";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { runConcurrencySuite } from "./concurrency.suite.js";

runConcurrencySuite({ name: "memory", create: async () => ({ backend: memoryBackend() }) });

runConcurrencySuite({
  name: "sqlite file",
  create: async () => {
    const dir = await mkdtemp(join(tmpdir(), "tessera-concurrency-"));
    const backend = databaseBackend({ url: `sqlite:${join(dir, "sessions.sqlite3")}` });
    return {
      backend,
      cleanup: async () => {
        await backend.close?.();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
});
