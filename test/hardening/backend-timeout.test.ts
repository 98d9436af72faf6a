/**
 * A store that hangs: `backendTimeoutMs` turns it into a clear BackendError (503), on its own
 * and through real HTTP, instead of a request that never ends.
 */
import { createServer } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import express, { type ErrorRequestHandler } from "express";
import { afterEach, describe, expect, it, vi } from "vitest";
import { BackendError, createSessions, type ServerBackend } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { sessionMiddleware } from "tessera-sessions/express";
import { withSession } from "tessera-sessions/node";
import { get, listen, type Listening } from "./http.js";

const KEY = "abcdefgh12345678abcdefgh12345678";
const never = () => new Promise<never>(() => {});

/** A backend whose chosen methods never answer; the rest are a working memory store. */
function hanging(methods: readonly (keyof ServerBackend)[]): ServerBackend {
  const inner = memoryBackend();
  const backend: ServerBackend = { ...inner, name: "hanging" };
  for (const method of methods) (backend as unknown as Record<string, unknown>)[method] = never;
  return backend;
}

const quiet = { warn: () => {}, error: () => {} };
const message = (action: string, ms: number) =>
  `[tessera] [hanging] could not ${action} the session: no answer within ${ms} ms (backendTimeoutMs). The store may be down or overloaded.`;

describe("backendTimeoutMs", () => {
  it("a load that never answers becomes a BackendError with status 503", async () => {
    const sessions = createSessions({ backend: hanging(["load"]), backendTimeoutMs: 50, logger: quiet });
    const error = await sessions
      .open(KEY)
      .get("x")
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    expect(error).toMatchObject({ status: 503, code: "BACKEND_FAILURE", backend: "hanging", message: message("load", 50) });
  });

  it("a save that never answers fails the commit the same way, for new and existing sessions", async () => {
    const creating = createSessions({ backend: hanging(["create"]), backendTimeoutMs: 40, logger: quiet });
    const fresh = creating.open();
    await fresh.set("a", 1);
    await expect(creating.commit(fresh, 200)).rejects.toMatchObject({ status: 503, message: message("save", 40) });

    const backend = hanging(["update"]);
    await backend.create(KEY, { data: "{}", expiresAt: Date.now() + 60_000, userId: null, now: Date.now() });
    const updating = createSessions({ backend, backendTimeoutMs: 40, logger: quiet });
    const existing = updating.open(KEY);
    await existing.set("a", 1);
    await expect(updating.commit(existing, 200)).rejects.toMatchObject({ status: 503, message: message("save", 40) });
  });

  it("flush and cycleKey time out on the delete", async () => {
    const backend = hanging(["delete"]);
    await backend.create(KEY, { data: "{}", expiresAt: Date.now() + 60_000, userId: null, now: Date.now() });
    const sessions = createSessions({ backend, backendTimeoutMs: 40, logger: quiet });
    await expect(sessions.open(KEY).flush()).rejects.toMatchObject({ status: 503, message: message("delete", 40) });
    await expect(sessions.open(KEY).cycleKey()).rejects.toMatchObject({ status: 503, message: message("delete", 40) });
  });

  it("a call that fails after the deadline is not an unhandled rejection", async () => {
    const inner = memoryBackend();
    const late: ServerBackend = {
      ...inner,
      name: "late",
      load: async () => {
        await sleep(80);
        throw new Error("connection reset");
      },
    };
    const sessions = createSessions({ backend: late, backendTimeoutMs: 20, logger: quiet });
    await expect(sessions.open(KEY).get("x")).rejects.toThrow(/no answer within 20 ms/);
    await sleep(120); // the late rejection lands here; vitest fails the run if it is unhandled
  });

  it("a store that answers in time is unaffected, and an ordinary failure keeps its own message", async () => {
    const inner = memoryBackend();
    const failing: ServerBackend = { ...inner, name: "failing", load: async () => Promise.reject(new Error("ECONNREFUSED")) };
    const sessions = createSessions({ backend: failing, backendTimeoutMs: 1000, logger: quiet });
    await expect(sessions.open(KEY).get("x")).rejects.toThrow("[tessera] [failing] could not load the session: ECONNREFUSED");
    const working = createSessions({ backend: inner, backendTimeoutMs: 1000 });
    const session = working.open();
    await session.set("a", 1);
    await working.commit(session, 200);
    expect(await working.open(session.sessionKey as string).get("a")).toBe(1);
  });
});

describe("a hanging store behind real HTTP", () => {
  const servers: Listening[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close();
    vi.restoreAllMocks();
  });

  it("tessera-sessions/node answers 503, and requests that never touch the session still work", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const sessions = createSessions({ backend: hanging(["load", "create", "update"]), backendTimeoutMs: 50, cookie: { secure: false }, logger: quiet });
    const server = await listen(
      createServer(
        withSession(sessions, async (req, res) => {
          if (req.url === "/read") await req.session.get("x");
          if (req.url === "/write") await req.session.set("x", 1);
          res.end("done");
        }),
      ),
    );
    servers.push(server);
    const read = await get(server.url, "/read", { Cookie: `sessionid=${KEY}` });
    expect([read.status, read.body, read.headers["set-cookie"]]).toEqual([503, "Service Unavailable", undefined]);
    const write = await get(server.url, "/write");
    expect([write.status, write.body, write.headers["set-cookie"]]).toEqual([503, "Service Unavailable", undefined]);
    const untouched = await get(server.url, "/static", { Cookie: `sessionid=${KEY}` });
    expect([untouched.status, untouched.body]).toEqual([200, "done"]);
  });

  it("tessera-sessions/express hands the BackendError to the app's error handler", async () => {
    const sessions = createSessions({ backend: hanging(["load"]), backendTimeoutMs: 50, cookie: { secure: false }, logger: quiet });
    const app = express();
    app.use(sessionMiddleware(sessions));
    app.get("/", async (req, res) => {
      res.send(String(await req.session.get("x")));
    });
    const onError: ErrorRequestHandler = (error: BackendError, _req, res, _next) => {
      res.status(error.status).send(`${error.name}: ${error.message}`);
    };
    app.use(onError);
    const server = await listen(createServer(app));
    servers.push(server);
    const reply = await get(server.url, "/", { Cookie: `sessionid=${KEY}` });
    expect(reply.status).toBe(503);
    expect(reply.body).toBe(`BackendError: ${message("load", 50)}`);
  });
});
