import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { sourceExports } from "../scripts/source-exports.mjs";

// package.json `exports` is the one list of entry points; vitest.config.ts and the ts-hooks derive
// their aliases from it, and tsconfig.json (plain JSON, so it cannot) is checked against it here.
describe("the export list", () => {
  const exports = sourceExports();

  it("maps every subpath to a source file that exists", () => {
    expect(exports.size).toBeGreaterThan(10);
    for (const source of exports.values()) expect(existsSync(source), source).toBe(true);
  });

  it("is what tsconfig.json's paths say, entry for entry", () => {
    const tsconfig = JSON.parse(readFileSync("tsconfig.json", "utf8")) as { compilerOptions: { paths: Record<string, string[]> } };
    const expected = Object.fromEntries([...exports].map(([specifier, source]) => [specifier, [`./${source}`]]));
    expect(tsconfig.compilerOptions.paths).toEqual(expected);
  });
});
