/**
 * SvelteKit, really built: test/fixtures/sveltekit is a SvelteKit app whose `handle` hook is
 * `sessionHandle`; `vite build` builds it once, and SvelteKit's own `Server` serves the build
 * over node:http through `@sveltejs/kit/node` (what adapter-node does). Each test gives the
 * running app its sessions and routes (test/fixtures/contract.ts).
 */
import type { RequestListener } from "node:http";
import { pathToFileURL } from "node:url";
import { getRequest, setResponse } from "@sveltejs/kit/node";
import { beforeAll } from "vitest";
import { buildFixture, describeFixtureSpecifics, fixtureDir, scenarioRoutes, suiteRoutes, useInFixture } from "../fixtures/serve.js";
import { describeWebScenarios, listen, runAdapterSuite } from "./adapter.suite.js";

let listener: RequestListener;

beforeAll(async () => {
  await buildFixture("sveltekit", "vite/bin/vite.js", ["build"]);
  const output = `${fixtureDir("sveltekit")}.svelte-kit/output/server/`;
  const { Server } = (await import(pathToFileURL(`${output}index.js`).href)) as typeof import("@sveltejs/kit");
  const { manifest } = (await import(pathToFileURL(`${output}manifest.js`).href)) as { manifest: import("@sveltejs/kit").SSRManifest };
  const kit = new Server(manifest);
  await kit.init({ env: {} });
  listener = async (req, res) => {
    const request = await getRequest({ request: req, base: `http://${req.headers.host ?? "127.0.0.1"}` });
    await setResponse(res, await kit.respond(request, { getClientAddress: () => req.socket.remoteAddress ?? "" }));
  };
}, 300_000);

runAdapterSuite({
  name: "sveltekit",
  start: async (sessions, routes) => {
    useInFixture(sessions, suiteRoutes(routes));
    return listen(listener);
  },
});

describeWebScenarios("sveltekit (built with vite)", async (sessions, store) => {
  useInFixture(sessions, scenarioRoutes(store));
  return listen(listener);
});

describeFixtureSpecifics("sveltekit", () => listener, { exceptionVaries: true });
