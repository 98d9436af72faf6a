/**
 * The Nuxt example (examples/nuxt), built with `nuxt build` (Nitro's node-listener preset) and
 * served by its serve.js, as `npm run example:nuxt` runs it: the shop driven over HTTP on Nuxt 3
 * under this Node 20, and on Nuxt 4 (the current major) built and served by Node 24 from the
 * registry.
 */
import { describeFrameworkExample } from "./framework-example.js";

describeFrameworkExample({
  framework: "Nuxt",
  packageName: "nuxt",
  build: { example: "nuxt", bin: "nuxt", args: ["build"], outputs: [".nuxt", ".output", "node_modules"] },
  installedMajor: "3",
  currentMajor: "4",
  currentSpecs: ["nuxt@4"],
});
