/**
 * Serves the built shop (`astro build` wrote dist/) with the node:http handler @astrojs/node
 * builds in middleware mode, on 127.0.0.1:PORT (default 3008).
 */
import { serveOnLoopback } from "../shared/serve.js";
import { handler } from "./dist/server/entry.mjs";

serveOnLoopback("Astro shop", handler, 3008);
