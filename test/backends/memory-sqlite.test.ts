import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { createSessions, hashKey } from "tessera-sessions";
import { databaseBackend } from "tessera-sessions/backends/db";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { runBackendSuite } from "tessera-sessions/testing";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
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

describe("sqlite: hashed keys at rest", () => {
  it("stores only the SHA-256 of the key: the raw key appears nowhere in the database file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-sqlite-hash-"));
    try {
      const file = join(dir, "sessions.sqlite3");
      const sessions = createSessions({ backend: databaseBackend({ url: `sqlite:${file}` }) });
      const session = sessions.open();
      await session.set("user", "jane");
      await session.save();
      const key = session.sessionKey as string;
      await sessions.close();
      const db = new Database(file, { readonly: true });
      const rows = db.prepare("SELECT key_hash FROM tessera_sessions").all() as { key_hash: string }[];
      db.close();
      expect(rows).toEqual([{ key_hash: hashKey(key) }]);
      const bytes = [file, `${file}-wal`]
        .filter(existsSync)
        .map((f) => readFileSync(f).toString("latin1"))
        .join("");
      expect(bytes).toContain(hashKey(key));
      expect(bytes).not.toContain(key);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("sqlite: clearExpired in the app's own process", () => {
  it("deletes in batches and lets the app run between them (the driver itself is synchronous)", async () => {
    const backend = databaseBackend({ url: "sqlite::memory:", batchSize: 10 });
    const now = Date.now();
    for (let i = 0; i < 35; i++) {
      await backend.create(`expired${String(i).padStart(4, "0")}`, { data: "{}", expiresAt: now - 1000, userId: null, now: now - 5000 });
    }
    await backend.create("stillalive000", { data: "{}", expiresAt: now + 60_000, userId: null, now });
    const order: string[] = [];
    setImmediate(() => order.push("app"));
    const cleared = await backend.clearExpired?.(now);
    order.push("cleared");
    expect(cleared).toBe(35);
    // Without a pause between batches the app's callback could only run after the whole clear.
    expect(order).toEqual(["app", "cleared"]);
    expect(await backend.exists("stillalive000")).toBe(true);
    await backend.close?.();
  });
});

describe("sqlite: close() after a failed open", () => {
  it.each([
    ["tessera", {}],
    ["django", { format: "django" as const, secret: "django-insecure-close-after-failed-open-0123456789" }],
  ])("resolves quietly (format %s): the open error is reported once, by the call that met it", async (_format, extra) => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-sqlite-missing-"));
    try {
      const backend = databaseBackend({ url: `sqlite:${join(dir, "no-such-directory", "sessions.sqlite3")}`, ...extra });
      await expect(backend.exists("abcdefgh12345678")).rejects.toThrow(/directory does not exist|unable to open database/);
      await expect(backend.close?.()).resolves.toBeUndefined();
      await expect(backend.close?.()).resolves.toBeUndefined(); // and again: nothing left to close
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("through createSessions: an app's shutdown handler does not throw the startup error again", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-sqlite-missing-"));
    try {
      const sessions = createSessions({ backend: databaseBackend({ url: `sqlite:${join(dir, "missing", "s.sqlite3")}` }) });
      await expect(sessions.migrate()).rejects.toThrow(/directory does not exist|unable to open database/);
      await expect(sessions.close()).resolves.toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("sqlite: a failed open is tried again", () => {
  it.each([
    ["tessera", {}],
    ["django", { format: "django" as const, secret: "django-insecure-open-again-after-failure-0123456789" }],
  ])("the next call opens the file once it can (format %s), instead of repeating the first error for good", async (_format, extra) => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-sqlite-later-"));
    try {
      const backend = databaseBackend({ url: `sqlite:${join(dir, "later", "sessions.sqlite3")}`, ...extra });
      await expect(backend.exists("abcdefgh12345678")).rejects.toThrow(/directory does not exist|unable to open database/);
      mkdirSync(join(dir, "later")); // the volume is mounted, the directory created...
      await backend.migrate?.();
      await expect(backend.exists("abcdefgh12345678")).resolves.toBe(false);
      await backend.close?.();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
