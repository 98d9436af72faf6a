/**
 * Serves the built shop (`vite build` wrote .svelte-kit/output) with SvelteKit's own Server over
 * node:http, as adapter-node does, on 127.0.0.1:PORT (default 3007).
 */
import { getRequest, setResponse } from "@sveltejs/kit/node";
import { serveOnLoopback } from "../shared/serve.js";
import { Server } from "./.svelte-kit/output/server/index.js";
import { manifest } from "./.svelte-kit/output/server/manifest.js";

const kit = new Server(manifest);
await kit.init({ env: {} });
serveOnLoopback(
  "SvelteKit shop",
  async (req, res) => {
    // Kit refuses a body past bodySizeLimit with a 413: the shop's forms hold a name or an item.
    const request = await getRequest({ request: req, base: `http://${req.headers.host ?? "127.0.0.1"}`, bodySizeLimit: 16 * 1024 });
    await setResponse(res, await kit.respond(request, { getClientAddress: () => req.socket.remoteAddress ?? "" }));
  },
  3007,
);
