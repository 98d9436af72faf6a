/**
 * SvelteKit, really built: test/fixtures/sveltekit is a SvelteKit app whose `handle` hook is
 * `sessionHandle`; `vite build` builds it once, and SvelteKit's own `Server` serves the build
 * over node:http through `@sveltejs/kit/node` (what adapter-node does). Each test gives the
 * running app its sessions and routes (test/fixtures/contract.ts).
 */
import { createServer, type RequestListener } from "node:http";
import { pathToFileURL } from "node:url";
import { getRequest, setResponse } from "@sveltejs/kit/node";
import { beforeAll, describe, expect, it } from "vitest";
import { BackendError } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { buildFixture, fixtureDir, scenarioRoutes, suiteRoutes, useInFixture } from "../fixtures/serve.js";
import { listenOn, runAdapterSuite } from "./adapter.suite.js";
import { describeWebScenarios, keyFrom, listen, testSessions } from "./web-scenarios.js";

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
}, 120_000);

runAdapterSuite({
  name: "sveltekit",
  start: async (sessions, routes) => {
    useInFixture(sessions, suiteRoutes(routes));
    return listenOn(createServer(listener));
  },
});

describeWebScenarios("sveltekit (built with vite)", async (sessions, store) => {
  useInFixture(sessions, scenarioRoutes(store));
  return listen(listener);
});

describe("sveltekit specifics", () => {
  it("a route's own exception: SvelteKit's 500 page, nothing saved, Vary: Cookie", async () => {
    const { store, sessions } = testSessions();
    useInFixture(sessions, {
      "/throw": async (session) => {
        await session.set("name", "crashed");
        throw new Error("boom");
      },
    });
    const server = await listen(listener);
    try {
      const res = await fetch(`${server.url}/throw`, { headers: { Accept: "application/json" } });
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ message: "Internal Error" });
      expect(res.headers.getSetCookie()).toEqual([]);
      expect(res.headers.get("vary")).toBe("Cookie");
      expect(store.log).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it("a store outage the route caught itself is its own answer, not a 503", async () => {
    const down = memoryBackend();
    down.load = async () => {
      throw new BackendError("memory", "connection refused");
    };
    const { sessions } = testSessions(down);
    useInFixture(sessions, {
      "/careful": async (session) => new Response(String(await session.get("name").catch(() => "unavailable"))),
    });
    const server = await listen(listener);
    try {
      const res = await fetch(`${server.url}/careful`, { headers: { cookie: "sessionid=abcdefghijklmnopqrstuvwxyz012345" } });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("unavailable");
    } finally {
      await server.close();
    }
  });

  it("event.locals.session survives SvelteKit's redirect() with the cookie on the 302", async () => {
    const { sessions } = testSessions();
    useInFixture(sessions, {
      "/go": async (session) => {
        await session.set("name", "went");
        return { redirect: "/read" };
      },
      "/read": async (session) => new Response(String(await session.get("name"))),
    });
    const server = await listen(listener);
    try {
      const res = await fetch(`${server.url}/go`, { redirect: "manual" });
      expect(res.status).toBe(302);
      expect(res.headers.get("location")).toBe("/read");
      const key = keyFrom(res.headers.getSetCookie()[0]);
      expect(await (await fetch(`${server.url}/read`, { headers: { cookie: `sessionid=${key}` } })).text()).toBe("went");
    } finally {
      await server.close();
    }
  });
});
