/**
 * Builds dist/ for the suites that run the package as users do (the CLI's main.js, the Next.js
 * example through the package's exports). Emit only: `npm run typecheck` checks the types.
 * One test file at a time: two tsc runs writing the same files could let a reader see a
 * half-written one, so a lock directory (mkdir is atomic) makes them take turns.
 */
import { execFile } from "node:child_process";
import { mkdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("..", import.meta.url));
const LOCK = join(repo, ".tmp", "dist-build.lock");
/** A lock older than this was left by a killed run. */
const STALE_MS = 120_000;

export async function buildDist(): Promise<void> {
  mkdirSync(join(repo, ".tmp"), { recursive: true });
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch (error) {
      if ((error as { code?: unknown }).code !== "EEXIST") throw error;
      const age = Date.now() - (statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > STALE_MS) rmSync(LOCK, { recursive: true, force: true });
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  try {
    await new Promise<void>((resolve, reject) => {
      execFile(
        process.execPath,
        [join(repo, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json", "--noCheck"],
        { cwd: repo },
        (error, stdout) => (error ? reject(new Error(`building dist/ failed:\n${stdout}`)) : resolve()),
      );
    });
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}
