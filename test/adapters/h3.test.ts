import { H3, HTTPError, redirect, toNodeHandler, type H3Event } from "h3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BackendError, SessionInterruptedError, type Session, type Sessions } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { sessionMiddleware } from "tessera-sessions/h3";
import { type CountingBackend, DELETION, describeWebScenarios, keyFrom, listen, runAdapterSuite, streamOf, testSessions } from "./adapter.suite.js";

/** The session the middleware put on the event (the tests fail loudly if it did not). */
const sessionOf = (event: H3Event): Session => {
  const { session } = event.context;
  if (!session) throw new Error("no session on event.context");
  return session;
};

runAdapterSuite({
  name: "h3",
  start: async (sessions, routes) => {
    const app = new H3();
    app.use(sessionMiddleware(sessions));
    for (const [path, route] of Object.entries(routes)) {
      app.get(path, async (event) => {
        const result = await route(sessionOf(event));
        if (result.kind === "redirect") return redirect(result.location, 302);
        if (result.kind === "text") {
          event.res.status = result.status;
          event.res.headers.set("Content-Type", "text/plain");
          return result.body;
        }
        return new Response(streamOf(result.chunks), { headers: { "Content-Type": "text/plain" } });
      });
    }
    return listen(toNodeHandler(app));
  },
});

function h3App(sessions: Sessions, store: CountingBackend, errors: unknown[] = []): H3 {
  const app = new H3({
    onError: (error) => {
      errors.push(error);
    },
  });
  app.use(sessionMiddleware(sessions));
  app.get("/read", async (event) => String((await sessionOf(event).get("name")) ?? "none"));
  app.get("/write", async (event) => {
    await sessionOf(event).set("name", event.url.searchParams.get("name") ?? "");
    return "saved";
  });
  app.get("/flush", async (event) => {
    await sessionOf(event).flush();
    return "flushed";
  });
  app.get("/interrupt", async (event) => {
    const session = sessionOf(event);
    await session.get("name");
    await store.delete(session.sessionKey as string);
    await session.set("name", "again");
    return redirect("/unreachable", 302);
  });
  app.get("/own-headers", async (event) => {
    event.res.headers.append("Set-Cookie", "theme=dark; Path=/");
    event.res.headers.set("Vary", "Accept-Encoding");
    await sessionOf(event).set("name", "own");
    return "own";
  });
  // h3 specifics
  app.get("/json", async (event) => {
    await sessionOf(event).set("name", "json");
    event.res.status = 201;
    return { ok: true };
  });
  app.get("/throw-403", async (event) => {
    await sessionOf(event).set("name", "forbidden");
    throw new HTTPError({ status: 403, message: "no" });
  });
  app.get("/throw", async (event) => {
    await sessionOf(event).set("name", "crashed");
    throw new Error("boom");
  });
  app.get("/immutable-redirect", async (event) => {
    await sessionOf(event).set("name", "immutable");
    return Response.redirect("http://127.0.0.1/read", 303);
  });
  return app;
}

describeWebScenarios("h3 on node:http", async (sessions, store) => listen(toNodeHandler(h3App(sessions, store))));

describe("h3 specifics", () => {
  const { store, sessions } = testSessions();
  const errors: unknown[] = [];
  let server: Awaited<ReturnType<typeof listen>>;
  const get = (path: string, key?: string) =>
    fetch(server.url + path, { redirect: "manual", ...(key === undefined ? {} : { headers: { cookie: `sessionid=${key}` } }) });
  const read = async (key: string) => (await get("/read", key)).text();

  beforeAll(async () => {
    server = await listen(toNodeHandler(h3App(sessions, store, errors)));
  });
  afterAll(() => server.close());

  it("commits with the status the handler set on event.res, for a value h3 turns into JSON", async () => {
    const res = await get("/json");
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ ok: true });
    expect(await read(keyFrom(res.headers.getSetCookie()[0]))).toBe("json");
  });

  it("a thrown HTTPError 4xx still saves, and its answer carries the cookie", async () => {
    const res = await get("/throw-403");
    expect(res.status).toBe(403);
    expect(((await res.json()) as { message: string }).message).toBe("no");
    expect(await read(keyFrom(res.headers.getSetCookie()[0]))).toBe("forbidden");
  });

  it("a thrown error goes through the app's onError, then answers 500, saving nothing, with Vary: Cookie", async () => {
    const before = store.calls.create ?? 0;
    errors.length = 0;
    const res = await get("/throw");
    expect(res.status).toBe(500);
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(res.headers.get("vary")).toBe("Cookie");
    expect(store.calls.create ?? 0).toBe(before);
    expect(errors).toHaveLength(1);
    expect((errors[0] as HTTPError).cause).toEqual(new Error("boom"));
  });

  it("adds the cookie to a Response whose headers are immutable", async () => {
    const res = await get("/immutable-redirect");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("http://127.0.0.1/read");
    expect(await read(keyFrom(res.headers.getSetCookie()[0]))).toBe("immutable");
  });

  it("an interrupted session reaches onError as an HTTPError(400) caused by SessionInterruptedError", async () => {
    const key = keyFrom((await get("/write?name=ann")).headers.getSetCookie()[0]);
    errors.length = 0;
    const res = await get("/interrupt", key);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toBe("Bad Request: session interrupted");
    expect(res.headers.get("location")).toBeNull();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(HTTPError);
    expect((errors[0] as HTTPError).cause).toBeInstanceOf(SessionInterruptedError);
  });

  it("a store outage answers 503, whether it happens on load or on save", async () => {
    const key = keyFrom((await get("/write?name=ann")).headers.getSetCookie()[0]);
    const down = memoryBackend();
    const refuse = async (): Promise<never> => {
      throw new BackendError("memory", "connection refused");
    };
    down.create = refuse;
    down.load = refuse;
    const broken = testSessions(down);
    const app = h3App(broken.sessions, broken.store);
    const onSave = await app.fetch(new Request("http://localhost/write?name=x"));
    expect(onSave.status).toBe(503);
    expect(((await onSave.json()) as { message: string }).message).toBe("Service Unavailable");
    expect(onSave.headers.getSetCookie()).toEqual([]);
    const onLoad = await app.fetch(new Request("http://localhost/read", { headers: { cookie: `sessionid=${key}` } }));
    expect(onLoad.status).toBe(503);
    expect(onLoad.headers.getSetCookie()).toEqual([]);
  });

  it("works on a plain fetch runtime: app.fetch(request), no server; flush deletes the cookie", async () => {
    const app = h3App(sessions, store);
    const first = await app.fetch(new Request("http://localhost/write?name=fetch"));
    const key = keyFrom(first.headers.getSetCookie()[0]);
    const second = await app.fetch(new Request("http://localhost/read", { headers: { cookie: `sessionid=${key}` } }));
    expect(await second.text()).toBe("fetch");
    const third = await app.fetch(new Request("http://localhost/flush", { headers: { cookie: `sessionid=${key}` } }));
    expect(third.headers.getSetCookie()).toEqual([DELETION]);
    expect(await store.exists(key)).toBe(false);
  });
});
