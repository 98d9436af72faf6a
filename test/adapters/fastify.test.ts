/**
 * `tessera-sessions/fastify` (the tesseraSessions plugin) against the adapter conformance suite, plus
 * what only Fastify has: `fastify.inject` and its error handler.
 */
import { Readable } from "node:stream";
import Fastify, { type FastifyReply } from "fastify";
import { describe, expect, it } from "vitest";
import { createSessions, SessionInterruptedError } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { tesseraSessions } from "tessera-sessions/fastify";
import { NOW, runAdapterSuite, type RouteResult } from "./adapter.suite.js";

/** Sends a suite route's result the Fastify way. */
function send(reply: FastifyReply, result: RouteResult): FastifyReply {
  switch (result.kind) {
    case "text":
      return reply.code(result.status).type("text/plain").send(result.body);
    case "redirect":
      return reply.redirect(result.location);
    case "stream":
      return reply.type("text/plain").send(Readable.from(result.chunks));
  }
}

runAdapterSuite({
  name: "fastify",
  start: async (sessions, routes) => {
    const app = Fastify();
    await app.register(tesseraSessions, { sessions });
    for (const [path, route] of Object.entries(routes)) {
      app.get(path, async (request, reply) => send(reply, await route(request.session)));
    }
    const url = await app.listen({ host: "127.0.0.1", port: 0 });
    return { url, close: () => app.close() };
  },
});

describe("fastify specifics", () => {
  function setup() {
    const backend = memoryBackend();
    const sessions = createSessions({ backend, clock: () => NOW, logger: { warn: () => {}, error: () => {} } });
    return { backend, sessions, app: Fastify() };
  }

  it("works with fastify.inject: the cookie is set, then read back", async () => {
    const { backend, sessions, app } = setup();
    await app.register(tesseraSessions, { sessions });
    app.get("/write", async (request) => {
      await request.session.set("user", "alice");
      return "written";
    });
    app.get("/read", async (request) => `hello ${String(await request.session.get("user"))}`);

    const written = await app.inject({ url: "/write" });
    expect(written.statusCode).toBe(200);
    expect(written.headers.vary).toBe("Cookie");
    const setCookie = written.headers["set-cookie"];
    expect(typeof setCookie).toBe("string");
    const key = /^sessionid=([a-z0-9]{32});/.exec(String(setCookie))?.[1] ?? "";
    expect(setCookie).toBe(`sessionid=${key}; Max-Age=1209600; Path=/; Expires=Tue, 28 Nov 2023 22:13:20 GMT; HttpOnly; Secure; SameSite=Lax`);
    expect(JSON.parse((await backend.load(key, NOW))?.data ?? "null")).toEqual({ user: "alice" });

    const read = await app.inject({ url: "/read", cookies: { sessionid: key } });
    expect(read.body).toBe("hello alice");
    expect(read.headers["set-cookie"]).toBeUndefined();
    await app.close();
  });

  it("a reply sent before the session was opened (an earlier onRequest hook, a bad URL) is left alone", async () => {
    const { sessions, app } = setup();
    app.addHook("onRequest", async (request, reply) => {
      if (request.url === "/private") return reply.code(401).send("sign in first");
    });
    await app.register(tesseraSessions, { sessions });
    app.get("/private", async () => "secret");
    app.get("/*", async () => "any");

    const denied = await app.inject({ url: "/private", cookies: { sessionid: "abc" } });
    expect(denied.statusCode).toBe(401);
    expect(denied.body).toBe("sign in first");
    expect(denied.headers["set-cookie"]).toBeUndefined();
    const badUrl = await app.inject({ url: "/%zz", cookies: { sessionid: "abc" } });
    expect(badUrl.statusCode).toBe(400);
    await app.close();
  });

  it("a stream whose session cannot be saved is destroyed, and the error status sent instead", async () => {
    const backend = memoryBackend();
    const down = { ...backend, create: async () => Promise.reject(new Error("connect ECONNREFUSED (simulated outage)")) };
    const sessions = createSessions({ backend: down, clock: () => NOW, logger: { warn: () => {}, error: () => {} } });
    const app = Fastify();
    await app.register(tesseraSessions, { sessions });
    const body = new Readable({ read() {} });
    app.get("/", async (request, reply) => {
      await request.session.set("n", 1);
      return reply.send(body);
    });
    const response = await app.inject({ url: "/" });
    expect(response.statusCode).toBe(503);
    expect(response.headers["set-cookie"]).toBeUndefined();
    expect(body.destroyed).toBe(true);
    await app.close();
  });

  it("keeps the route's own Set-Cookie and Vary values beside the session's", async () => {
    const { sessions, app } = setup();
    await app.register(tesseraSessions, { sessions });
    app.get("/", async (request, reply) => {
      await request.session.set("n", 1);
      reply.header("Set-Cookie", "theme=dark; Path=/");
      reply.header("Vary", "Accept-Encoding");
      return "ok";
    });
    const response = await app.inject({ url: "/" });
    const cookies = response.headers["set-cookie"];
    expect(Array.isArray(cookies) ? cookies : [cookies]).toEqual(["theme=dark; Path=/", expect.stringMatching(/^sessionid=[a-z0-9]{32}; /)]);
    expect(response.headers.vary).toBe("Accept-Encoding, Cookie");
    await app.close();
  });

  it("an interrupted session reaches the app's error handler as SessionInterruptedError, status 400", async () => {
    const { backend, sessions, app } = setup();
    const seeded = sessions.open();
    await seeded.set("count", 1);
    await seeded.save();
    const key = seeded.sessionKey ?? "";
    await app.register(tesseraSessions, { sessions });
    const received: unknown[] = [];
    app.setErrorHandler((error, _request, reply) => {
      received.push(error);
      return reply.type("text/plain").send(`handled with ${reply.statusCode}`);
    });
    app.get("/interrupt", async (request, reply) => {
      await request.session.get("count");
      await backend.delete(key); // a logout in another tab, while this request runs
      await request.session.set("count", 2);
      return reply.redirect("/elsewhere");
    });

    const response = await app.inject({ url: "/interrupt", cookies: { sessionid: key } });
    expect(response.statusCode).toBe(400);
    expect(response.body).toBe("handled with 400");
    // Nothing of the redirect the route prepared leaks into the error response.
    expect(response.headers.location).toBeUndefined();
    expect(response.headers["set-cookie"]).toBeUndefined();
    expect(received).toHaveLength(1);
    expect(received[0]).toBeInstanceOf(SessionInterruptedError);
    expect(await backend.exists(key)).toBe(false);
    await app.close();
  });
});
