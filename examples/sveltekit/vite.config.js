// No adapter (and no svelte.config.js, which SvelteKit 3 refuses): serve.js serves the build with
// SvelteKit's own Server over node:http, as adapter-node does.
import { sveltekit } from "@sveltejs/kit/vite";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [sveltekit()],
  // Loaded from node_modules at run time, not bundled: one Tessera (and one SQLite driver) per process.
  ssr: { external: ["tessera-sessions"] },
  build: { rollupOptions: { external: [/^tessera-sessions(\/|$)/] } },
  logLevel: "warn",
});
