import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BackendError, SessionError, SessionInterruptedError, type Sessions } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { sessionMiddleware } from "tessera-sessions/hono";
import { type CountingBackend, DELETION, describeWebScenarios, keyFrom, listen, NOW, runAdapterSuite, streamOf, testSessions } from "./adapter.suite.js";

runAdapterSuite({
  name: "hono",
  start: async (sessions, routes) => {
    const app = new Hono();
    app.use(sessionMiddleware(sessions));
    for (const [path, route] of Object.entries(routes)) {
      app.get(path, async (c) => {
        const result = await route(c.var.session);
        if (result.kind === "redirect") return c.redirect(result.location);
        if (result.kind === "text") return c.text(result.body, result.status as ContentfulStatusCode);
        return c.body(streamOf(result.chunks), 200, { "Content-Type": "text/plain" });
      });
    }
    // Hono's default onError answers 500 to anything but an HTTPException; the app maps a session
    // error raised in a route (the store down while loading) to its status, as the adapter documents.
    app.onError((error, c) => {
      if (error instanceof HTTPException) return error.getResponse();
      if (error instanceof SessionError) return c.text(error.code, error.status as ContentfulStatusCode);
      return c.text("Internal Server Error", 500);
    });
    return listen(getRequestListener(app.fetch));
  },
});

function honoApp(sessions: Sessions, store: CountingBackend): Hono {
  const app = new Hono();
  app.use(sessionMiddleware(sessions));
  app.get("/read", async (c) => c.text(String((await c.var.session.get("name")) ?? "none")));
  app.get("/write", async (c) => {
    await c.get("session").set("name", c.req.query("name") ?? "");
    return c.text("saved");
  });
  app.get("/flush", async (c) => {
    await c.var.session.flush();
    return c.text("flushed");
  });
  app.get("/interrupt", async (c) => {
    const { session } = c.var;
    await session.get("name");
    await store.delete(session.sessionKey as string);
    await session.set("name", "again");
    return c.redirect("/unreachable");
  });
  app.get("/own-headers", async (c) => {
    c.header("Set-Cookie", "theme=dark; Path=/", { append: true });
    c.header("Vary", "Accept-Encoding");
    await c.var.session.set("name", "own");
    return c.text("own");
  });
  // Hono specifics
  app.get("/immutable-redirect", async (c) => {
    await c.var.session.set("name", "immutable");
    return Response.redirect("http://127.0.0.1/read", 303); // its headers cannot be changed
  });
  app.get("/throw", async (c) => {
    await c.var.session.set("name", "crashed");
    throw new Error("boom");
  });
  app.get("/throw-401", async (c) => {
    await c.var.session.set("name", "unauthorized");
    throw new HTTPException(401, { message: "who are you" });
  });
  return app;
}

describeWebScenarios("hono on @hono/node-server", async (sessions, store) => listen(getRequestListener(honoApp(sessions, store).fetch)));

describe("hono specifics", () => {
  const { store, sessions } = testSessions();
  const app = honoApp(sessions, store);
  app.onError((error, c) => {
    if (error instanceof HTTPException) return error.getResponse();
    return c.text("Internal Server Error", 500);
  });
  let server: Awaited<ReturnType<typeof listen>>;
  const read = async (key: string) => (await fetch(`${server.url}/read`, { headers: { cookie: `sessionid=${key}` } })).text();

  beforeAll(async () => {
    server = await listen(getRequestListener(app.fetch));
  });
  afterAll(() => server.close());

  it("adds the cookie to a Response whose headers are immutable", async () => {
    const res = await fetch(`${server.url}/immutable-redirect`, { redirect: "manual" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("http://127.0.0.1/read");
    expect(await read(keyFrom(res.headers.getSetCookie()[0]))).toBe("immutable");
  });

  it("a handler's exception becomes c.res before the commit: 500, nothing saved, Vary kept", async () => {
    const before = store.calls.create ?? 0;
    const res = await fetch(`${server.url}/throw`);
    expect(res.status).toBe(500);
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(res.headers.get("vary")).toBe("Cookie");
    expect(store.calls.create ?? 0).toBe(before);
  });

  it("an HTTPException 4xx still saves the session", async () => {
    const res = await fetch(`${server.url}/throw-401`);
    expect(res.status).toBe(401);
    expect(await res.text()).toBe("who are you");
    expect(await read(keyFrom(res.headers.getSetCookie()[0]))).toBe("unauthorized");
  });

  it("an interrupted session reaches app.onError as an HTTPException(400) caused by SessionInterruptedError, without the redirect's headers", async () => {
    const key = keyFrom((await fetch(`${server.url}/write?name=ann`)).headers.getSetCookie()[0]);
    const seen: unknown[] = [];
    const watched = honoApp(sessions, store);
    watched.onError((error) => {
      seen.push(error);
      return (error as HTTPException).getResponse();
    });
    const res = await watched.fetch(new Request("http://localhost/interrupt", { headers: { cookie: `sessionid=${key}` } }));
    expect(res.status).toBe(400);
    expect(await res.text()).toBe("Bad Request: session interrupted");
    expect(res.headers.get("location")).toBeNull();
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(seen[0]).toBeInstanceOf(HTTPException);
    expect((seen[0] as HTTPException).cause).toBeInstanceOf(SessionInterruptedError);
  });

  it("a store outage answers 503", async () => {
    const down = memoryBackend();
    down.create = async () => {
      throw new BackendError("memory", "connection refused");
    };
    const broken = testSessions(down);
    const res = await honoApp(broken.sessions, broken.store).fetch(new Request("http://localhost/write?name=x"));
    expect(res.status).toBe(503);
    expect(await res.text()).toBe("Service Unavailable");
    expect(res.headers.getSetCookie()).toEqual([]);
  });

  it("works on a plain fetch runtime: app.fetch(request), no server", async () => {
    const plain = honoApp(sessions, store);
    const first = await plain.fetch(new Request("http://localhost/write?name=fetch"));
    const key = keyFrom(first.headers.getSetCookie()[0]);
    expect(first.headers.get("set-cookie")).toBe(
      `sessionid=${key}; Max-Age=1209600; Path=/; Expires=${new Date(NOW + 1_209_600_000).toUTCString()}; HttpOnly; Secure; SameSite=Lax`,
    );
    const second = await plain.fetch(new Request("http://localhost/read", { headers: { cookie: `sessionid=${key}` } }));
    expect(await second.text()).toBe("fetch");
    const third = await plain.fetch(new Request("http://localhost/flush", { headers: { cookie: `sessionid=${key}` } }));
    expect(third.headers.getSetCookie()).toEqual([DELETION]);
  });
});
