/**
 * The Astro example (examples/astro), built with `astro build` (server output, @astrojs/node in
 * middleware mode) and served by its serve.js, as `npm run example:astro` runs it: the shop
 * driven over HTTP on Astro 5 under this Node 20, and on Astro 7 (the current major, with
 * @astrojs/node 11, the adapter major for it) built and served by Node 24 from the registry.
 */
import { describeFrameworkExample } from "./framework-example.js";

describeFrameworkExample({
  framework: "Astro",
  packageName: "astro",
  build: { example: "astro", bin: "astro", args: ["build", "--silent"], outputs: ["dist", ".astro", "node_modules"] },
  installedMajor: "5",
  currentMajor: "7",
  currentSpecs: ["astro@7", "@astrojs/node@11"],
});
