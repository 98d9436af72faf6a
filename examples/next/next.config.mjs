// The Next.js shop. `next build` runs offline: no next/font/google, no remote images, no telemetry
// (the npm scripts and the test set NEXT_TELEMETRY_DISABLED=1).
import { fileURLToPath } from "node:url";

/** @type {import("next").NextConfig} */
const config = {
  poweredByHeader: false,
  // The repository root holds node_modules and the tessera sources the tsconfig paths point at.
  turbopack: { root: fileURLToPath(new URL("../..", import.meta.url)) },
  // `npm run typecheck` checks this app (tsc -p examples/next); the build need not do it again.
  typescript: { ignoreBuildErrors: true },
};

export default config;
