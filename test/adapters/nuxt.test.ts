// h3 v1 (what Nuxt 3 and 4 serve through), installed under an alias beside h3 v2.
import { createApp, createError, createRouter, defineEventHandler, getQuery, sendRedirect, setResponseStatus, toNodeListener, type H3Event } from "h3-v1";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BackendError, type Session, type Sessions } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { sessionHandler } from "tessera-sessions/nuxt";
import { type CountingBackend, describeWebScenarios, keyFrom, listen, runAdapterSuite, testSessions } from "./adapter.suite.js";

const sessionOf = (event: H3Event): Session => {
  const session = event.context["session"] as Session | undefined;
  if (!session) throw new Error("no session on event.context");
  return session;
};

/** An h3 v1 app with the session middleware first, as a Nuxt server middleware file mounts it. */
function appWith(sessions: Sessions, onError?: (error: unknown) => void) {
  const app = createApp(onError === undefined ? {} : { onError: (error) => onError(error) });
  app.use(defineEventHandler(sessionHandler(sessions)));
  const router = createRouter();
  app.use(router);
  return { app, router };
}

runAdapterSuite({
  name: "h3 v1 (Nuxt)",
  start: async (sessions, routes) => {
    const { app, router } = appWith(sessions);
    for (const [path, route] of Object.entries(routes)) {
      router.get(
        path,
        defineEventHandler(async (event) => {
          const result = await route(sessionOf(event));
          if (result.kind === "redirect") return sendRedirect(event, result.location, 302);
          if (result.kind === "text") {
            setResponseStatus(event, result.status);
            event.node.res.setHeader("Content-Type", "text/plain");
            return result.body;
          }
          event.node.res.setHeader("Content-Type", "text/plain");
          // pipeline, not h3's sendStream: a failing source must abort the response.
          await pipeline(Readable.from(result.chunks), event.node.res);
          return undefined;
        }),
      );
    }
    return listen(toNodeListener(app));
  },
});

function scenarioApp(sessions: Sessions, store: CountingBackend) {
  const { app, router } = appWith(sessions);
  router.get(
    "/read",
    defineEventHandler(async (event) => String((await sessionOf(event).get("name")) ?? "none")),
  );
  router.get(
    "/write",
    defineEventHandler(async (event) => {
      await sessionOf(event).set("name", String(getQuery(event)["name"] ?? ""));
      return "saved";
    }),
  );
  router.get(
    "/flush",
    defineEventHandler(async (event) => {
      await sessionOf(event).flush();
      return "flushed";
    }),
  );
  router.get(
    "/interrupt",
    defineEventHandler(async (event) => {
      const session = sessionOf(event);
      await session.get("name");
      await store.delete(session.sessionKey as string);
      await session.set("name", "again");
      return sendRedirect(event, "/unreachable", 302);
    }),
  );
  router.get(
    "/own-headers",
    defineEventHandler(async (event) => {
      event.node.res.appendHeader("Set-Cookie", "theme=dark; Path=/");
      event.node.res.setHeader("Vary", "Accept-Encoding");
      await sessionOf(event).set("name", "own");
      return "own";
    }),
  );
  router.get(
    "/throw-403",
    defineEventHandler(async (event) => {
      await sessionOf(event).set("name", "forbidden");
      throw createError({ statusCode: 403, statusMessage: "no" });
    }),
  );
  return app;
}

describeWebScenarios("h3 v1 on node:http", async (sessions, store) => listen(toNodeListener(scenarioApp(sessions, store))));

describe("h3 v1 specifics", () => {
  const { store, sessions } = testSessions();
  let server: Awaited<ReturnType<typeof listen>>;
  beforeAll(async () => {
    server = await listen(toNodeListener(scenarioApp(sessions, store)));
  });
  afterAll(() => server.close());

  it("a thrown createError 4xx still saves, and h3's error answer carries the cookie", async () => {
    const res = await fetch(`${server.url}/throw-403`, { redirect: "manual" });
    expect(res.status).toBe(403);
    const key = keyFrom(res.headers.getSetCookie()[0]);
    const read = await fetch(`${server.url}/read`, { headers: { cookie: `sessionid=${key}` } });
    expect(await read.text()).toBe("forbidden");
  });

  it("a store outage on load reaches h3's error path as a 503, with no cookie", async () => {
    const down = memoryBackend();
    down.load = async (): Promise<never> => {
      throw new BackendError("memory", "connection refused");
    };
    const broken = testSessions(down);
    const errors: unknown[] = [];
    const { app, router } = appWith(broken.sessions, (error) => errors.push(error));
    router.get(
      "/read",
      defineEventHandler(async (event) => String(await sessionOf(event).get("name"))),
    );
    const outage = await listen(toNodeListener(app));
    try {
      const res = await fetch(`${outage.url}/read`, { headers: { cookie: "sessionid=abcdefghijklmnopqrstuvwxyz012345" } });
      expect(res.status).toBe(503);
      expect(res.headers.getSetCookie()).toEqual([]);
      expect(errors).toHaveLength(1);
      expect((errors[0] as { cause?: unknown }).cause).toBeInstanceOf(BackendError);
    } finally {
      await outage.close();
    }
  });
});
