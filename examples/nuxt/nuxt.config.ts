import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { defineNuxtConfig } from "nuxt/config";

// Nitro's routes import h3 v1 (the auto-imported defineEventHandler, toWebRequest) by the bare
// name "h3". In an app, h3 v1 is the one installed; this repo's root also holds h3 v2 (for
// tessera-sessions/h3), so the name is pinned to the h3 Nitro itself runs on.
const nitroRequire = createRequire(createRequire(import.meta.url).resolve("nitropack/package.json"));
const h3 = join(dirname(nitroRequire.resolve("h3/package.json")), "dist", "index.mjs");

// The shop is all server routes (server/routes/), so Nuxt builds no pages. Written for Nuxt 3
// (the repo's devDependency, Node 20) and Nuxt 4 (the current major, Node 22+) alike: srcDir is
// set, so Nuxt 4's app/ default does not move it, and server/ stays at the root on both.
export default defineNuxtConfig({
  srcDir: ".",
  serverDir: "server",
  pages: false,
  telemetry: false,
  devtools: { enabled: false },
  // node-listener: .output/server/index.mjs exports a node:http listener; serve.js binds it to 127.0.0.1.
  nitro: { preset: "node-listener", alias: { h3 } },
  compatibilityDate: "2026-01-01",
  hooks: {
    // Without pages, Nuxt's Vue renderer would answer every other path with its welcome page
    // (200): leave the rest to server/routes/[...].ts, a plain 404.
    "nitro:config": (config) => void delete config.renderer,
  },
});
