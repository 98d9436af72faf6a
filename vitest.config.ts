import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { sourceExports } from "./scripts/source-exports.mjs";

export default defineConfig({
  resolve: {
    // Tests and examples import "tessera-sessions/..." as users do; map it to the sources, not dist/.
    alias: [...sourceExports()].map(([specifier, source]) => ({
      find: new RegExp(`^${specifier.replaceAll("/", "\\/")}$`),
      replacement: fileURLToPath(new URL(`./${source}`, import.meta.url)),
    })),
  },
  test: {
    include: ["test/**/*.test.ts", "src/**/*.test.ts"],
    globalSetup: ["./test/preflight.ts", "./test/build-dist.ts"],
    reporters: ["default", "./test/summary-reporter.ts"],
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
});
