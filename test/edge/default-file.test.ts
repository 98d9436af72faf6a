/**
 * The default SQLite file in a read-only working directory (serverless platforms) is refused at
 * startup with a ConfigurationError saying what to do (issue 16). The directory is really
 * read-only: a tmpfs mounted `ro` in a private mount namespace (unshare -m) that lives only as
 * long as the probe, so even root cannot write there (chmod would not stop root).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../peer-install.js";
import { bundleForServer } from "./bundle.js";

let work: string;
let probe: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "tessera-default-file-"));
  probe = join(work, "probe.mjs");
  writeFileSync(probe, await bundleForServer(fileURLToPath(new URL("default-probe.ts", import.meta.url))));
  // The bundle finds better-sqlite3 (a runtime import) in this repository's node_modules.
  symlinkSync(fileURLToPath(new URL("../../node_modules", import.meta.url)), join(work, "node_modules"));
}, 60_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the default SQLite file", () => {
  it("a read-only working directory: a ConfigurationError at startup naming the fix, nothing written", async () => {
    const readOnly = join(work, "read-only");
    mkdirSync(readOnly);
    const script = 'mount -t tmpfs -o ro,size=1m tessera-ro "$1" && cd "$1" && exec "$2" "$3"';
    const out = await run("unshare", ["-m", "sh", "-c", script, "sh", readOnly, process.execPath, probe], { cwd: work });
    expect(JSON.parse(out)).toEqual({
      created: false,
      name: "ConfigurationError",
      message:
        `[tessera] No backend was given, and the default (a SQLite file, sessions.sqlite3, in the working directory ${readOnly}) cannot be created: it is on a read-only file system, as on serverless platforms. ` +
        'Set a path the process can write: backend: databaseBackend({ url: "sqlite:/tmp/sessions.sqlite3" }) from "tessera-sessions/backends/db", ' +
        'or pick another backend: signedCookieBackend() from "tessera-sessions/backends/signed-cookies" (no storage needed), a database or a cache by URL.',
    });
    expect(readdirSync(readOnly)).toEqual([]); // the mount is gone with its namespace; nothing leaked beneath
  }, 60_000);

  it("a writable working directory: the default file is created on the first save", async () => {
    const writable = join(work, "writable");
    mkdirSync(writable);
    expect(JSON.parse(await run(process.execPath, [probe], { cwd: writable }))).toEqual({ created: true });
    expect(existsSync(join(writable, "sessions.sqlite3"))).toBe(true);
    const db = new Database(join(writable, "sessions.sqlite3"), { readonly: true });
    expect(db.prepare("SELECT COUNT(*) AS n FROM tessera_sessions").get()).toEqual({ n: 1 });
    db.close();
  }, 60_000);
});
