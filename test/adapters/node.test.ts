/**
 * `tessera-sessions/node` (withSession) against the adapter conformance suite, plus what only it has:
 * headers passed to `writeHead`, and the `onError` option.
 */
import { createServer, type ServerResponse } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { createSessions, SessionInterruptedError } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { withSession, type NodeAdapterOptions, type RequestWithSession } from "tessera-sessions/node";
import { listenOn, NOW, runAdapterSuite, type RouteResult, type RunningServer } from "./adapter.suite.js";

/** Sends a suite route's result with plain node:http calls. */
async function send(res: ServerResponse, result: RouteResult): Promise<void> {
  switch (result.kind) {
    case "text":
      res.writeHead(result.status, { "Content-Type": "text/plain; charset=utf-8" });
      res.end(result.body);
      return;
    case "redirect":
      res.writeHead(302, { Location: result.location });
      res.end();
      return;
    case "stream":
      res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
      for await (const chunk of result.chunks) res.write(chunk);
      res.end();
  }
}

runAdapterSuite({
  name: "node:http",
  start: (sessions, routes) =>
    listenOn(
      createServer(
        withSession(sessions, async (req, res) => {
          const route = routes[new URL(req.url ?? "/", "http://localhost").pathname];
          if (route === undefined) {
            res.writeHead(404).end();
            return;
          }
          await send(res, await route(req.session));
        }),
      ),
    ),
});

describe("node:http specifics", () => {
  const servers: RunningServer[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close();
  });

  async function serve(handler: (req: RequestWithSession, res: ServerResponse) => unknown, options: NodeAdapterOptions = {}) {
    const backend = memoryBackend();
    const sessions = createSessions({ backend, clock: () => NOW, logger: { warn: () => {}, error: () => {} } });
    const server = await listenOn(createServer(withSession(sessions, handler, options)));
    servers.push(server);
    return { backend, sessions, url: server.url };
  }

  it("headers given to writeHead (object, raw array, with a status message) merge with the session's", async () => {
    const { url } = await serve(async (req, res) => {
      await req.session.set("n", 1);
      const path = req.url ?? "";
      if (path === "/object") res.writeHead(201, "Made", { Vary: "Accept-Encoding", "Set-Cookie": "theme=dark; Path=/" });
      else res.writeHead(201, ["Vary", "Accept", "Set-Cookie", "theme=light; Path=/"]);
      res.end("done");
    });
    const object = await fetch(`${url}/object`);
    expect(object.status).toBe(201);
    expect(object.statusText).toBe("Made");
    expect(object.headers.get("vary")).toBe("Accept-Encoding, Cookie");
    const objectCookies = object.headers.getSetCookie();
    expect(objectCookies).toHaveLength(2);
    expect(objectCookies[0]).toBe("theme=dark; Path=/");
    expect(objectCookies[1]).toMatch(/^sessionid=[a-z0-9]{32}; Max-Age=1209600; /);

    const raw = await fetch(`${url}/raw`);
    expect(raw.status).toBe(201);
    expect(raw.headers.get("vary")).toBe("Accept, Cookie");
    const rawCookies = raw.headers.getSetCookie();
    expect(rawCookies).toHaveLength(2);
    expect(rawCookies[0]).toBe("theme=light; Path=/");
    expect(rawCookies[1]).toMatch(/^sessionid=[a-z0-9]{32}; /);
    expect(await raw.text()).toBe("done");
  });

  it("a custom onError answers a failed commit: it receives SessionInterruptedError (400) and nothing the handler prepared", async () => {
    const received: unknown[] = [];
    let key = "";
    const { backend, sessions, url } = await serve(
      async (req, res) => {
        await req.session.get("count");
        await backend.delete(key); // a logout in another tab, while this request runs
        await req.session.set("count", 2);
        res.writeHead(302, { Location: "/elsewhere", "X-Prepared": "yes" }).end();
      },
      {
        onError: (error, _req, res) => {
          received.push(error);
          res.writeHead((error as SessionInterruptedError).status, { "Content-Type": "text/plain" }).end("handled");
        },
      },
    );
    const seeded = sessions.open();
    await seeded.set("count", 1);
    await seeded.save();
    key = seeded.sessionKey ?? "";

    const response = await fetch(url, { headers: { cookie: `sessionid=${key}` }, redirect: "manual" });
    expect(response.status).toBe(400);
    expect(await response.text()).toBe("handled");
    expect(response.headers.get("location")).toBeNull();
    expect(response.headers.get("x-prepared")).toBeNull();
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(received).toHaveLength(1);
    expect(received[0]).toBeInstanceOf(SessionInterruptedError);
    expect(await backend.exists(key)).toBe(false);
  });
});
