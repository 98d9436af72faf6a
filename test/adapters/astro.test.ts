/**
 * Astro, really built: test/fixtures/astro is an Astro app (server output, @astrojs/node in
 * middleware mode) whose `src/middleware.ts` is `sessionMiddleware`; `astro build` builds it
 * once, and the build's own node:http handler serves it. Each test gives the running app its
 * sessions and routes (test/fixtures/contract.ts).
 */
import { createServer, type RequestListener } from "node:http";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { BackendError } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { buildFixture, fixtureDir, scenarioRoutes, suiteRoutes, useInFixture } from "../fixtures/serve.js";
import { listenOn, runAdapterSuite } from "./adapter.suite.js";
import { describeWebScenarios, keyFrom, listen, testSessions } from "./web-scenarios.js";

let listener: RequestListener;

beforeAll(async () => {
  await buildFixture("astro", "astro/astro.js", ["build", "--silent"]);
  const { handler } = (await import(pathToFileURL(`${fixtureDir("astro")}dist/server/entry.mjs`).href)) as { handler: RequestListener };
  listener = handler;
}, 120_000);

runAdapterSuite({
  name: "astro",
  start: async (sessions, routes) => {
    useInFixture(sessions, suiteRoutes(routes));
    return listenOn(createServer(listener));
  },
  skip: [
    {
      reason:
        "a page's own exception rejects next() and goes on to Astro, which renders its 500 page after the middleware has run; there is no Response to add Vary: Cookie to. Nothing is saved and no cookie is set: see 'a page's own exception'",
      tests: ["a route that throws after a write: the framework's 500, no save, no cookie"],
    },
  ],
});

describeWebScenarios("astro (built with astro build)", async (sessions, store) => {
  useInFixture(sessions, scenarioRoutes(store));
  return listen(listener);
});

describe("astro specifics", () => {
  it("a page's own exception: Astro's 500, nothing saved, no cookie", async () => {
    const { store, sessions } = testSessions();
    useInFixture(sessions, {
      "/throw": async (session) => {
        await session.set("name", "crashed");
        throw new Error("boom");
      },
    });
    const server = await listen(listener);
    try {
      const res = await fetch(`${server.url}/throw`);
      expect(res.status).toBe(500);
      expect(res.headers.getSetCookie()).toEqual([]);
      expect(store.log).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it("a store outage the page caught itself is its own answer, not a 503", async () => {
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

  it("Astro's redirect() carries the cookie on the 302", async () => {
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
