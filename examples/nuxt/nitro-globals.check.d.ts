// For `npm run typecheck` only (tsconfig.check.json): what a `nuxt build` would type through its
// generated .nuxt/ types. Nuxt's config gains `nitro` from @nuxt/nitro-server, and server/ files
// get the h3 v1 functions Nitro auto-imports.
import "@nuxt/nitro-server";

declare global {
  const defineEventHandler: typeof import("h3-v1").defineEventHandler;
  const toWebRequest: typeof import("h3-v1").toWebRequest;
}
