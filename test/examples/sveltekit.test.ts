/**
 * The SvelteKit example (examples/sveltekit), built with `vite build` and served by its serve.js
 * (SvelteKit's Server over node:http), as `npm run example:sveltekit` runs it: the shop driven
 * over HTTP on SvelteKit 2 under this Node 20, and on SvelteKit 3 (the current major) built and
 * served by Node 24 from the registry.
 */
import { describeFrameworkExample } from "./framework-example.js";

describeFrameworkExample({
  framework: "SvelteKit",
  packageName: "@sveltejs/kit",
  build: { example: "sveltekit", bin: "vite", args: ["build"], outputs: [".svelte-kit", "node_modules"] },
  installedMajor: "2",
  currentMajor: "3",
  currentSpecs: ["@sveltejs/kit@3", "@sveltejs/vite-plugin-svelte@7", "svelte@5", "vite@8"],
});
