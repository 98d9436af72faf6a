/**
 * The Nuxt example (examples/nuxt), built with `nuxt build` (Nitro's node-listener preset) and
 * served by its serve.js, as `npm run example:nuxt` runs it: the shop driven over HTTP on Nuxt 3
 * under this Node 20, and on Nuxt 4 (the current major) built and served by Node 24 from the
 * registry.
 */
import { expect } from "vitest";
import { describeFrameworkExample } from "./framework-example.js";

describeFrameworkExample({
  framework: "Nuxt",
  packageName: "nuxt",
  build: { example: "nuxt", bin: "nuxt", args: ["build"], outputs: [".nuxt", ".output", "node_modules"] },
  installedMajor: "3",
  currentMajor: "4",
  currentSpecs: ["nuxt@4"],
  alsoChecks: [
    [
      "any other path or method is a plain 404, not Nuxt's welcome page",
      async (url) => {
        for (const [method, path] of [
          ["GET", "/nope"],
          ["POST", "/"],
          ["GET", "/_nuxt/missing.js"],
        ] as const) {
          const res = await fetch(`${url}${path}`, { method });
          expect([method, path, res.status, res.headers.get("content-type"), await res.text()]).toEqual([
            method,
            path,
            404,
            "text/plain; charset=utf-8",
            "Not found",
          ]);
        }
      },
    ],
  ],
});
