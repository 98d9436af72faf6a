/**
 * A child process for faults.test.ts: rewrites the given file-backend sessions with big values,
 * one worker per session, all at once and as fast as it can, until it is killed (kill -9 is the
 * point). Prints `ready` once loaded, starts when the parent writes a line to stdin (so start-up
 * is not part of the round), then prints one line per acknowledged save (`saved <index> <n>`)
 * and one per failure (`error <message>`).
 *
 * Usage: node <hooks> file-writer.ts <directory> <bytes per value> <key>...
 *   Each save of session i writes { i, n, blob } where n is one more than the stored n and blob
 *   is `bytes` copies of the letter blobLetter(n): a torn or mixed file cannot pass for a record.
 */
import { createInterface } from "node:readline";
import { createSessions } from "tessera-sessions";
import { fileBackend } from "tessera-sessions/backends/file";

const [directory, bytesText, ...keys] = process.argv.slice(2);
if (directory === undefined || bytesText === undefined || keys.length === 0) throw new Error("usage: file-writer.ts <directory> <bytes> <key>...");
const bytes = Number(bytesText);

/** The letter a save numbered `n` fills its blob with (faults.test.ts checks it). */
function blobLetter(n: number): string {
  return String.fromCharCode(97 + (n % 26));
}

// No backendTimeoutMs: a lock left by the previous (killed) writer takes seconds to go stale.
const sessions = createSessions({ backend: fileBackend({ directory }), backendTimeoutMs: 0, logger: { warn: () => {}, error: () => {} } });

async function worker(i: number, key: string): Promise<never> {
  for (;;) {
    try {
      const session = sessions.open(key);
      const n = (((await session.get("n")) as number | undefined) ?? 0) + 1;
      await session.update({ i, n, blob: blobLetter(n).repeat(bytes) });
      await sessions.commit(session, 200);
      if (session.sessionKey !== key) throw new Error(`session ${i} was replaced by a new key`);
      process.stdout.write(`saved ${i} ${n}\n`);
    } catch (error) {
      process.stdout.write(`error ${JSON.stringify(error instanceof Error ? error.message : String(error))}\n`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

process.stdout.write("ready\n");
await new Promise<void>((resolve) => createInterface({ input: process.stdin }).once("line", () => resolve()));
await Promise.all(keys.map((key, i) => worker(i, key)));
