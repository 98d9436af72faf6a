/**
 * A child process for sqlite-processes.test.ts: waits for "go" on stdin, then runs session
 * writes against one SQLite file and prints one JSON line with what it wrote and every error.
 *
 * Usage: node <hooks> sqlite-writer.ts <file> <label> <count> [sharedKey]
 *   without sharedKey: creates <count> sessions of its own, then updates each once;
 *   with sharedKey: sets <count> keys of its own in that one session (merging with the other process).
 */
import { createInterface } from "node:readline";
import { createSessions } from "tessera-sessions";
import { databaseBackend } from "tessera-sessions/backends/db";

const [file, label, countText, sharedKey] = process.argv.slice(2);
if (file === undefined || label === undefined || countText === undefined) throw new Error("usage: sqlite-writer.ts <file> <label> <count> [sharedKey]");
const count = Number(countText);

const sessions = createSessions({ backend: databaseBackend({ url: `sqlite:${file}` }), logger: { warn: () => {}, error: () => {} } });
const errors: string[] = [];
const created: string[] = [];

async function attempt(work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    errors.push(error instanceof Error ? error.message : String(error));
  }
}

// Both processes start writing at the same moment: the parent says "go" once both are ready.
process.stdout.write("ready\n");
await new Promise<void>((resolve) => createInterface({ input: process.stdin }).once("line", () => resolve()));

if (sharedKey === undefined) {
  for (let i = 0; i < count; i++) {
    await attempt(async () => {
      const session = sessions.open();
      await session.set("writer", label);
      await session.set("i", i);
      await sessions.commit(session, 200);
      created.push(session.sessionKey as string);
    });
  }
  for (const [i, key] of created.entries()) {
    await attempt(async () => {
      const session = sessions.open(key);
      await session.set("updated", i);
      await sessions.commit(session, 200);
    });
  }
} else {
  for (let i = 0; i < count; i++) {
    await attempt(async () => {
      const session = sessions.open(sharedKey);
      await session.get("shared"); // load, then let the other process write in between
      await new Promise((resolve) => setImmediate(resolve));
      await session.set(`${label}-${i}`, i);
      await sessions.commit(session, 200);
      if (session.sessionKey !== sharedKey) throw new Error(`the shared session was replaced by ${String(session.sessionKey)}`);
    });
  }
}

await sessions.close();
process.stdout.write(`${JSON.stringify({ label, created, errors })}\n`);
