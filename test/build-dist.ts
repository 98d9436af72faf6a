/**
 * vitest globalSetup: builds dist/ once per run, before any test file starts, for the suites that
 * run the package as users do (the CLI's main.js, the framework examples through the package's
 * exports). Emit only: `npm run typecheck` checks the types. Once here, not in each file's
 * beforeAll: every build costs about 5 s, and two at once could let a reader see a half-written file.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("..", import.meta.url));

export default function buildDist(): void {
  try {
    execFileSync(process.execPath, [join(repo, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json", "--noCheck"], {
      cwd: repo,
      encoding: "utf8",
    });
  } catch (error) {
    throw new Error(`building dist/ failed:\n${(error as { stdout?: string }).stdout ?? String(error)}`);
  }
}
