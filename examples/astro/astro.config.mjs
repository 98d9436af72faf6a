import node from "@astrojs/node";
import { defineConfig } from "astro/config";

export default defineConfig({
  output: "server",
  // The demo's own origin: Astro trusts a request's Host only for these, and refuses a form POST
  // whose Origin is not the page's (its CSRF check, kept on beside Tessera's tokens).
  security: { allowedDomains: [{ protocol: "http", hostname: "127.0.0.1" }] },
  // Middleware mode: the build exports a node:http handler, which serve.js serves on loopback.
  adapter: node({ mode: "middleware" }),
  // Loaded from node_modules at run time, not bundled: one Tessera (and one SQLite driver) per process.
  vite: { ssr: { external: ["tessera-sessions"] }, build: { rollupOptions: { external: [/^tessera-sessions(\/|$)/] } } },
});
