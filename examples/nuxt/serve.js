/**
 * Serves the built shop (`nuxt build` wrote .output/ with Nitro's node-listener preset) over
 * node:http on 127.0.0.1:PORT (default 3010).
 */
import { serveOnLoopback } from "../shared/serve.js";
import { listener } from "./.output/server/index.mjs";

serveOnLoopback("Nuxt shop", listener, 3010);
