import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (path: string) => fileURLToPath(new URL(`./src/${path}`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests and examples import "tessera-sessions/..." as users do; map it to the sources, not dist/.
    alias: [
      { find: /^tessera-sessions$/, replacement: src("index.ts") },
      { find: /^tessera-sessions\/backends\/db$/, replacement: src("backends/db/index.ts") },
      { find: /^tessera-sessions\/backends\/(.+)$/, replacement: src("backends/$1.ts") },
      { find: /^tessera-sessions\/testing$/, replacement: src("testing/index.ts") },
      { find: /^tessera-sessions\/django$/, replacement: src("django/index.ts") },
      { find: /^tessera-sessions\/admin$/, replacement: src("admin/index.ts") },
      { find: /^tessera-sessions\/(node|express|fastify|koa|hono|fetch)$/, replacement: src("adapters/$1.ts") },
    ],
  },
  test: {
    include: ["test/**/*.test.ts", "src/**/*.test.ts"],
    reporters: ["default", "./test/summary-reporter.ts"],
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
});
