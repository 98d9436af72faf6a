/**
 * `tessera-sessions/express` (sessionMiddleware) against the adapter conformance suite, plus what only
 * Express has: its error-handler chain and `res.redirect()`.
 */
import { createServer, get as httpGet, ServerResponse } from "node:http";
import { gunzipSync } from "node:zlib";
import compression from "compression";
import express, { type ErrorRequestHandler, type Response } from "express";
import { afterEach, describe, expect, it } from "vitest";
import { createSessions, SessionInterruptedError } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { sessionMiddleware } from "tessera-sessions/express";
import { holdsResponse } from "../../src/adapters/shared-prototype.js";
import { listenOn, NOW, runAdapterSuite, type RouteResult, type RunningServer } from "./adapter.suite.js";

/** Sends a suite route's result the Express way. */
async function send(res: Response, result: RouteResult): Promise<void> {
  switch (result.kind) {
    case "text":
      res.status(result.status).type("text/plain").send(result.body);
      return;
    case "redirect":
      res.redirect(result.location);
      return;
    case "stream":
      res.type("text/plain");
      for await (const chunk of result.chunks) res.write(chunk);
      res.end();
  }
}

runAdapterSuite({
  name: "express",
  start: (sessions, routes) => {
    const app = express();
    app.use(sessionMiddleware(sessions));
    for (const [path, route] of Object.entries(routes)) {
      // Express 5 sends a rejected handler's error to next(err): the framework's error path.
      app.get(path, async (req, res) => send(res, await route(req.session)));
    }
    return listenOn(createServer(app));
  },
});

describe("express specifics", () => {
  const servers: RunningServer[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close();
  });

  function setup() {
    const backend = memoryBackend();
    const sessions = createSessions({ backend, clock: () => NOW, logger: { warn: () => {}, error: () => {} } });
    const app = express();
    app.use(sessionMiddleware(sessions));
    return { backend, sessions, app };
  }

  async function listen(app: express.Express): Promise<string> {
    const server = await listenOn(createServer(app));
    servers.push(server);
    return server.url;
  }

  it("an interrupted session reaches the app's error handler as SessionInterruptedError, status 400", async () => {
    const { backend, sessions, app } = setup();
    const seeded = sessions.open();
    await seeded.set("count", 1);
    await seeded.save();
    const key = seeded.sessionKey ?? "";

    app.get("/interrupt", async (req, res) => {
      await req.session.get("count");
      await backend.delete(key); // a logout in another tab, while this request runs
      await req.session.set("count", 2);
      res.redirect("/elsewhere");
    });
    const received: unknown[] = [];
    const handler: ErrorRequestHandler = (error: { status?: number }, _req, res, _next) => {
      received.push(error);
      res
        .status(error.status ?? 500)
        .type("text/plain")
        .send("handled by the app");
    };
    app.use(handler);
    const url = await listen(app);

    const response = await fetch(`${url}/interrupt`, { headers: { cookie: `sessionid=${key}` }, redirect: "manual" });
    expect(response.status).toBe(400);
    expect(await response.text()).toBe("handled by the app");
    // Nothing of the redirect the route prepared leaks into the error response.
    expect(response.headers.get("location")).toBeNull();
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(received).toHaveLength(1);
    expect(received[0]).toBeInstanceOf(SessionInterruptedError);
    expect((received[0] as SessionInterruptedError).status).toBe(400);
    expect(await backend.exists(key)).toBe(false);
  });

  it("drops each response's interception state once its commit is done (a finished response is not kept alive for the GC)", async () => {
    const { app } = setup();
    const seen: { route: string; beforeEnd: boolean; res: Response }[] = [];
    app.get("/untouched", (_req, res) => {
      seen.push({ route: "untouched", beforeEnd: holdsResponse(res), res });
      res.send("ok");
    });
    app.get("/write", async (req, res) => {
      await req.session.set("n", 1);
      seen.push({ route: "write", beforeEnd: holdsResponse(res), res });
      res.send("ok");
    });
    app.get("/stream", async (req, res) => {
      await req.session.set("n", 2);
      res.write("one ");
      seen.push({ route: "stream", beforeEnd: holdsResponse(res), res });
      res.end("two");
    });
    const url = await listen(app);
    const written = await fetch(`${url}/write`);
    expect(written.headers.getSetCookie()).toHaveLength(1);
    const cookie = written.headers.getSetCookie()[0]?.split(";")[0] ?? "";
    expect(await (await fetch(`${url}/untouched`, { headers: { cookie } })).text()).toBe("ok");
    expect(await (await fetch(`${url}/stream`, { headers: { cookie } })).text()).toBe("one two");
    expect(seen.map((s) => [s.route, s.beforeEnd])).toEqual([
      ["write", true],
      ["untouched", true],
      ["stream", true], // the first write started the save; the hold keeps the rest in order
    ]);
    for (const { res } of seen) expect(holdsResponse(res)).toBe(false);
  });

  it("a middleware after it that wraps res.write/res.end (as compression does) keeps wrapping after the commit", async () => {
    const { app } = setup();
    // Upper-cases the body: a stand-in for any transforming middleware mounted after the sessions.
    app.use((_req, res, next) => {
      const write = res.write;
      const end = res.end;
      const upper = (chunk: unknown) => (typeof chunk === "string" ? chunk.toUpperCase() : chunk);
      res.write = function (this: Response, chunk: unknown, ...rest: unknown[]) {
        return (write as (...a: unknown[]) => boolean).call(this, upper(chunk), ...rest);
      } as typeof res.write;
      res.end = function (this: Response, chunk?: unknown, ...rest: unknown[]) {
        return (end as (...a: unknown[]) => Response).call(this, upper(chunk), ...rest);
      } as typeof res.end;
      next();
    });
    app.get("/", async (req, res) => {
      await req.session.set("n", 1);
      res.type("text/plain");
      res.write("one ");
      await new Promise((resolve) => setTimeout(resolve, 20));
      res.write("two ");
      res.end("three");
    });
    const url = await listen(app);
    const response = await fetch(url);
    expect(await response.text()).toBe("ONE TWO THREE");
    expect(response.headers.getSetCookie()).toEqual([expect.stringMatching(/^sessionid=[a-z0-9]{32}; /)]);
  });

  it("res.redirect() after a write: the 303 carries the session cookie and the write is stored", async () => {
    const { backend, app } = setup();
    app.post("/login", async (req, res) => {
      await req.session.set("user", "alice");
      await req.session.cycleKey();
      res.redirect(303, "/dashboard");
    });
    app.get("/dashboard", async (req, res) => {
      res.type("text/plain").send(`hello ${String(await req.session.get("user"))}`);
    });
    const url = await listen(app);

    const login = await fetch(`${url}/login`, { method: "POST", redirect: "manual" });
    expect(login.status).toBe(303);
    expect(login.headers.get("location")).toBe("/dashboard");
    const cookies = login.headers.getSetCookie();
    expect(cookies).toHaveLength(1);
    const key = /^sessionid=([a-z0-9]{32});/.exec(cookies[0] ?? "")?.[1] ?? "";
    expect(key).not.toBe("");
    expect(JSON.parse((await backend.load(key, NOW))?.data ?? "null")).toEqual({ user: "alice" });

    const dashboard = await fetch(`${url}/dashboard`, { headers: { cookie: `sessionid=${key}` } });
    expect(await dashboard.text()).toBe("hello alice");
  });

  // The adapter intercepts on Express's shared response prototype instead of adding properties
  // to each response (see attachSessionShared); these are the cases that must still hold.
  describe("interception on the shared prototype", () => {
    function cookieOf(response: globalThis.Response, name = "sessionid"): string {
      const cookie = response.headers.getSetCookie().find((c) => c.startsWith(`${name}=`)) ?? "";
      return /^[^=]+=([a-z0-9]{32});/.exec(cookie)?.[1] ?? "";
    }

    it("a handler in a mounted sub-app saves the session (the sub-app swaps the prototype)", async () => {
      const { backend, app } = setup();
      const admin = express();
      admin.get("/write", async (req, res) => {
        await req.session.set("where", "sub-app");
        res.send("ok");
      });
      app.use("/admin", admin);
      const url = await listen(app);
      const response = await fetch(`${url}/admin/write`);
      expect(await response.text()).toBe("ok");
      const key = cookieOf(response);
      expect(JSON.parse((await backend.load(key, NOW))?.data ?? "null")).toEqual({ where: "sub-app" });
    });

    it("a middleware before it that wraps res.end still sees the committed response", async () => {
      const backend = memoryBackend();
      const sessions = createSessions({ backend, clock: () => NOW });
      const app = express();
      const seen: string[] = [];
      app.use((_req, res, next) => {
        const end = res.end;
        res.end = function (this: Response, ...args: unknown[]) {
          seen.push(String(res.getHeader("Set-Cookie") ?? "none"));
          return (end as (...a: unknown[]) => Response).apply(this, args);
        } as typeof res.end;
        next();
      });
      app.use(sessionMiddleware(sessions));
      app.get("/", async (req, res) => {
        await req.session.set("n", 1);
        res.send("ok");
      });
      const url = await listen(app);
      const response = await fetch(url);
      const key = cookieOf(response);
      expect(JSON.parse((await backend.load(key, NOW))?.data ?? "null")).toEqual({ n: 1 });
      expect(seen).toEqual([expect.stringMatching(new RegExp(`^sessionid=${key};`))]);
    });

    /** A GET asking for gzip, on a fresh connection: the status, headers and the raw (still compressed) body. */
    function gzipGet(url: string, cookie?: string): Promise<{ status: number; headers: import("node:http").IncomingHttpHeaders; raw: Buffer }> {
      return new Promise((resolve, reject) => {
        httpGet(url, { agent: false, headers: { "Accept-Encoding": "gzip", ...(cookie ? { Cookie: `sessionid=${cookie}` } : {}) } }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, raw: Buffer.concat(chunks) }));
          res.on("error", reject);
        }).on("error", reject);
      });
    }

    for (const order of ["compression mounted before it (wrapping every response)", "compression mounted after it"] as const) {
      it(`with ${order}: gzip bodies, the session saved before the headers, Vary carries both`, async () => {
        const backend = memoryBackend();
        const sessions = createSessions({ backend, clock: () => NOW, cookie: { secure: false } });
        const app = express();
        if (order.startsWith("compression mounted before")) app.use(compression({ threshold: 0 }), sessionMiddleware(sessions));
        else app.use(sessionMiddleware(sessions), compression({ threshold: 0 }));
        const big = "tessera ".repeat(500);
        app.get("/write", async (req, res) => {
          await req.session.set("n", (((await req.session.get("n")) as number | undefined) ?? 0) + 1);
          res.type("text/plain").send(big);
        });
        app.get("/stream", async (req, res) => {
          await req.session.set("streamed", true);
          res.type("text/plain");
          for (let i = 0; i < 3; i++) res.write(`${big}${i}`);
          res.end();
        });
        app.get("/redirect", async (req, res) => {
          await req.session.set("redirected", true);
          res.redirect("/write");
        });
        const url = await listen(app);

        const first = await gzipGet(`${url}/write`);
        expect(first.status).toBe(200);
        expect(first.headers["content-encoding"]).toBe("gzip");
        expect(gunzipSync(first.raw).toString("utf8")).toBe(big);
        // Each adds its field once; the order depends on which of them goes first.
        expect(first.headers["vary"]?.split(", ").sort()).toEqual(["Accept-Encoding", "Cookie"]);
        const key = /^sessionid=([a-z0-9]{32});/.exec(first.headers["set-cookie"]?.[0] ?? "")?.[1] ?? "";
        expect(JSON.parse((await backend.load(key, NOW))?.data ?? "null")).toEqual({ n: 1 });

        const second = await gzipGet(`${url}/write`, key);
        expect(gunzipSync(second.raw).toString("utf8")).toBe(big);
        expect(JSON.parse((await backend.load(key, NOW))?.data ?? "null")).toEqual({ n: 2 });

        const streamed = await gzipGet(`${url}/stream`, key);
        expect(streamed.headers["content-encoding"]).toBe("gzip");
        expect(gunzipSync(streamed.raw).toString("utf8")).toBe(`${big}0${big}1${big}2`);
        expect(JSON.parse((await backend.load(key, NOW))?.data ?? "null")).toEqual({ n: 2, streamed: true });

        const redirected = await gzipGet(`${url}/redirect`, key);
        expect([redirected.status, redirected.headers["location"]]).toEqual([302, "/write"]);
        expect(JSON.parse((await backend.load(key, NOW))?.data ?? "null")).toEqual({ n: 2, streamed: true, redirected: true });
      });
    }

    // The per-request checks read the prototype and use Object.hasOwn (a read on Express's req/res
    // misses V8's caches); an own property put there by an earlier middleware must still count.
    it("a response whose own res.end skips the prototype (set by a middleware before it) still commits", async () => {
      const { backend, sessions } = setup();
      const app = express();
      let bypass = false;
      app.use((_req, res, next) => {
        // Straight to node's end, past anything on Express's prototype.
        if (bypass) res.end = ServerResponse.prototype.end as typeof res.end;
        next();
      });
      app.use(sessionMiddleware(sessions));
      app.get("/", async (req, res) => {
        await req.session.set("n", 1);
        res.send("ok");
      });
      const url = await listen(app);
      expect(cookieOf(await fetch(url))).not.toBe(""); // the prototype is patched and checked
      bypass = true;
      const response = await fetch(url);
      const key = cookieOf(response);
      expect(key).not.toBe("");
      expect(JSON.parse((await backend.load(key, NOW))?.data ?? "null")).toEqual({ n: 1 });
    });

    it("an own req.session set by a middleware before it gives way to Tessera's, also on later requests", async () => {
      const { sessions } = setup();
      const app = express();
      let stale = false;
      app.use((req, _res, next) => {
        if (stale) Object.defineProperty(req, "session", { value: "stale", writable: true, configurable: true });
        next();
      });
      app.use(sessionMiddleware(sessions));
      app.get("/", async (req, res) => {
        res.send(typeof (req.session as unknown as { get?: unknown }).get);
      });
      const url = await listen(app);
      expect(await (await fetch(url)).text()).toBe("function");
      stale = true;
      expect(await (await fetch(url)).text()).toBe("function");
    });

    it("two session middlewares on one request each set their cookie; an app without one is untouched", async () => {
      const first = createSessions({ backend: memoryBackend(), clock: () => NOW });
      const second = createSessions({ backend: memoryBackend(), clock: () => NOW, cookie: { name: "other" } });
      const app = express();
      app.use(sessionMiddleware(first));
      app.use((req, res, next) => {
        const outer = req.session;
        sessionMiddleware(second)(req, res, (error?: unknown) => {
          (req as unknown as { other: unknown }).other = req.session;
          req.session = outer;
          next(error);
        });
      });
      app.get("/", async (req, res) => {
        await req.session.set("a", 1);
        await (req as unknown as { other: typeof req.session }).other.set("b", 2);
        res.send("ok");
      });
      const plain = express();
      plain.get("/", (_req, res) => res.send("plain"));
      const url = await listen(app);
      const plainUrl = await listen(plain);

      const response = await fetch(url);
      expect(cookieOf(response, "sessionid")).not.toBe("");
      expect(cookieOf(response, "other")).not.toBe("");
      const untouched = await fetch(plainUrl);
      expect(await untouched.text()).toBe("plain");
      expect(untouched.headers.getSetCookie()).toEqual([]);
      expect(untouched.headers.get("vary")).toBeNull();
    });
  });
});
