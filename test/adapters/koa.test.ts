import { Readable } from "node:stream";
import Koa from "koa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BackendError, type Sessions } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { sessionMiddleware } from "tessera-sessions/koa";
import { type CountingBackend, DELETION, describeWebScenarios, keyFrom, listen, runAdapterSuite, testSessions } from "./adapter.suite.js";

runAdapterSuite({
  name: "koa",
  start: async (sessions, routes) => {
    const app = new Koa();
    app.silent = true; // the suite provokes 400s, 500s and 503s on purpose
    app.use(sessionMiddleware(sessions));
    app.use(async (ctx) => {
      const route = routes[ctx.path];
      if (route === undefined) return;
      // A rejected route throws here and reaches Koa's own error handling.
      const result = await route(ctx.session);
      if (result.kind === "redirect") return ctx.redirect(result.location);
      ctx.type = "text/plain";
      if (result.kind === "text") {
        ctx.status = result.status;
        ctx.body = result.body;
      } else ctx.body = Readable.from(result.chunks);
    });
    return listen(app.callback());
  },
});

function koaApp(sessions: Sessions, store: CountingBackend): Koa {
  const app = new Koa();
  app.silent = true; // the 400/503 answers are expected here; Koa would log them
  app.use(sessionMiddleware(sessions));
  app.use(async (ctx) => {
    const { session } = ctx;
    switch (ctx.path) {
      case "/read":
        ctx.body = String((await session.get("name")) ?? "none");
        return;
      case "/write":
        await session.set("name", String(ctx.query.name));
        ctx.body = "saved";
        return;
      case "/flush":
        await session.flush();
        ctx.body = "flushed";
        return;
      case "/interrupt":
        await session.get("name");
        await store.delete(session.sessionKey as string);
        await session.set("name", "again");
        ctx.redirect("/unreachable");
        return;
      case "/own-headers":
        ctx.append("Set-Cookie", "theme=dark; Path=/");
        ctx.vary("Accept-Encoding");
        await session.set("name", "own");
        ctx.body = "own";
        return;
      // Koa specifics
      case "/no-body": // Koa answers 404 "Not Found": a 4xx, so the session is saved (as Django would)
        await session.set("name", "nobody");
        return;
      case "/empty": // an explicit null body is a 204
        await session.set("name", "empty");
        ctx.body = null;
        return;
      case "/throw-403": // ctx.throw: Koa's error path answers, the session's headers ride along
        await session.set("name", "forbidden");
        ctx.throw(403, "no", { headers: { "X-Reason": "test", vary: "Origin" } });
        return;
      case "/throw-500":
        await session.set("name", "crashed");
        throw new Error("boom");
      case "/flush-then-throw":
        await session.flush();
        throw new Error("boom");
    }
  });
  return app;
}

describeWebScenarios("koa", async (sessions, store) => listen(koaApp(sessions, store).callback()));

describe("koa specifics", () => {
  const { store, sessions } = testSessions();
  let server: Awaited<ReturnType<typeof listen>>;
  const get = (path: string, cookie?: string) =>
    fetch(server.url + path, { redirect: "manual", ...(cookie === undefined ? {} : { headers: { cookie: `sessionid=${cookie}` } }) });
  const read = async (key: string) => (await get("/read", key)).text();

  beforeAll(async () => {
    server = await listen(koaApp(sessions, store).callback());
  });
  afterAll(() => server.close());

  it("commits with the 404 Koa sends when no body was set", async () => {
    const res = await get("/no-body");
    expect(res.status).toBe(404);
    expect(await res.text()).toBe("Not Found");
    expect(await read(keyFrom(res.headers.getSetCookie()[0]))).toBe("nobody");
  });

  it("commits with the 204 of an explicit null body", async () => {
    const res = await get("/empty");
    expect(res.status).toBe(204);
    expect(await read(keyFrom(res.headers.getSetCookie()[0]))).toBe("empty");
  });

  it("a thrown 4xx still saves, and its answer carries the cookie, Vary and the error's own headers", async () => {
    const res = await get("/throw-403");
    expect(res.status).toBe(403);
    expect(await res.text()).toBe("no");
    expect(res.headers.get("x-reason")).toBe("test");
    expect(res.headers.get("vary")).toBe("Origin, Cookie");
    expect(await read(keyFrom(res.headers.getSetCookie()[0]))).toBe("forbidden");
  });

  it("a thrown error (500) saves nothing and sets no cookie, but varies", async () => {
    const before = store.calls.create ?? 0;
    const res = await get("/throw-500");
    expect(res.status).toBe(500);
    expect(await res.text()).toBe("Internal Server Error");
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(res.headers.get("vary")).toBe("Cookie");
    expect(store.calls.create ?? 0).toBe(before);
  });

  it("flush() before a thrown error still deletes the cookie", async () => {
    const key = keyFrom((await get("/write?name=zed")).headers.getSetCookie()[0]);
    const res = await get("/flush-then-throw", key);
    expect(res.status).toBe(500);
    expect(res.headers.getSetCookie()).toEqual([DELETION]);
    expect(await store.exists(key)).toBe(false);
  });

  it("a store outage reaches Koa's error handling as a 503", async () => {
    const down = memoryBackend();
    down.create = async () => {
      throw new BackendError("memory", "connection refused");
    };
    const broken = testSessions(down);
    const app = koaApp(broken.sessions, broken.store);
    const errors: unknown[] = [];
    app.on("error", (error: unknown) => errors.push(error));
    const other = await listen(app.callback());
    try {
      const res = await fetch(`${other.url}/write?name=x`);
      expect(res.status).toBe(503);
      expect(await res.text()).toBe("Service Unavailable");
      expect(res.headers.getSetCookie()).toEqual([]);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(BackendError);
    } finally {
      await other.close();
    }
  });
});
