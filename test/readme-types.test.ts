/**
 * The README's Express example type-checks as written, on its own (its `declare module` would
 * otherwise type every test's sessions), under the project's strict settings and with no casts.
 */
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));

it("the README's Express example compiles under strict TypeScript without casts", async () => {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const code = /```ts\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf("## Use it in an Express app")))?.[1] ?? "";
  expect(code).toContain("sessionMiddleware(sessions)");
  expect(code).not.toMatch(/\bas [A-Za-z{[]|<any>|: any\b/);
  const dir = join(root, ".tmp", "readme-types");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "example.ts"), code);
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ extends: "../../tsconfig.json", compilerOptions: { noEmit: true }, include: ["example.ts"] }));
  const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = execFile(
      process.execPath,
      [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", join(dir, "tsconfig.json")],
      (_error, stdout, stderr) => resolve({ code: child.exitCode, output: stdout + stderr }),
    );
  });
  expect(result).toEqual({ code: 0, output: "" });
}, 120_000);
