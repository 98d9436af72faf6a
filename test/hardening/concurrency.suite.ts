/**
 * No lost updates, no resurrected sessions: 50 concurrent HTTP requests (real sockets, the
 * Express adapter) on one session, generic over the backend so every server-side store can run
 * it. A barrier inside the handler makes every request load the same version before any of
 * them saves, so the overlap is certain, not left to scheduling.
 *
 * @example
 * runConcurrencySuite({
 *   name: "redis",
 *   create: async () => ({ backend: cacheBackend({ url }), cleanup: async () => {} }),
 * });
 * @module
 */
import { createServer } from "node:http";
import express, { type ErrorRequestHandler } from "express";
import { afterEach, describe, expect, it } from "vitest";
import { createSessions, VersionConflictError, type ServerBackend } from "tessera-sessions";
import { sessionMiddleware } from "tessera-sessions/express";
import { get, listen, setCookieValue, type Listening, type Reply } from "./http.js";

/** A fresh, empty backend for one test, and how to dispose of it. */
export interface BackendUnderTest {
  readonly backend: ServerBackend;
  cleanup?(): Promise<void>;
}

/** Options of {@link runConcurrencySuite}. */
export interface ConcurrencySuiteOptions {
  /** Shown in the test titles. */
  readonly name: string;
  /** Called once per test. */
  create(): Promise<BackendUnderTest>;
  /**
   * How many concurrent writers.
   * @default 50
   */
  readonly writers?: number;
}

/** Waits until `parties` callers arrived (or `timeoutMs` passed, so a lost request cannot hang a test). */
function barrier(parties: number, timeoutMs = 15_000) {
  let arrived = 0;
  let release!: () => void;
  const open = new Promise<void>((resolve) => (release = resolve));
  const timer = setTimeout(() => release(), timeoutMs);
  return {
    arrive: async () => {
      arrived++;
      if (arrived === parties) {
        clearTimeout(timer);
        release();
      }
      await open;
    },
    get arrived() {
      return arrived;
    },
  };
}

/** Wraps a backend and counts the updates written and those that met a concurrent write. */
function conflictCounting(inner: ServerBackend): ServerBackend & { conflicts: number; updates: number } {
  const wrapped = Object.create(inner) as ServerBackend & { conflicts: number; updates: number };
  wrapped.conflicts = 0;
  wrapped.updates = 0;
  wrapped.update = async (key, write, version) => {
    try {
      await inner.update(key, write, version);
      wrapped.updates++;
    } catch (error) {
      if (error instanceof VersionConflictError) wrapped.conflicts++;
      throw error;
    }
  };
  return wrapped;
}

/** Registers the concurrency tests for one backend. */
export function runConcurrencySuite(options: ConcurrencySuiteOptions): void {
  const writers = options.writers ?? 50;

  describe(`concurrent requests on one session (${options.name})`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function start(parties: number) {
      const under = await options.create();
      const backend = conflictCounting(under.backend);
      const sessions = createSessions({ backend, cookie: { secure: false }, logger: { warn: () => {}, error: () => {} } });
      const gate = barrier(parties);
      const app = express();
      app.use(sessionMiddleware(sessions));
      app.get("/init", async (req, res) => {
        await req.session.set("init", true);
        res.send("ok");
      });
      app.get("/set/:i", async (req, res) => {
        await req.session.get("init"); // load this request's version first...
        await gate.arrive(); // ...and let every other request load the same one
        await req.session.set(`k${req.params["i"]}`, Number(req.params["i"]));
        res.send("ok");
      });
      app.get("/flush", async (req, res) => {
        await gate.arrive();
        await req.session.flush();
        res.send("flushed");
      });
      app.get("/all", async (req, res) => {
        res.json(await req.session.load());
      });
      const onError: ErrorRequestHandler = (error: { status?: number; code?: string }, _req, res, _next) => {
        res.status(error.status ?? 500).send(error.code ?? "error");
      };
      app.use(onError);
      const server: Listening = await listen(createServer(app));
      cleanups.push(async () => {
        await server.close();
        await sessions.close();
        await under.cleanup?.();
      });
      return { backend, server, gate };
    }

    it(`${writers} concurrent requests each setting its own key: all ${writers} keys are kept`, async () => {
      const { backend, server, gate } = await start(writers);
      const init = await get(server.url, "/init");
      const key = setCookieValue(init) as string;
      expect(key).toMatch(/^[a-z0-9]{32}$/);
      const cookie = { Cookie: `sessionid=${key}` };

      const replies = await Promise.all(Array.from({ length: writers }, (_, i) => get(server.url, `/set/${i}`, cookie)));
      expect(gate.arrived).toBe(writers); // they really overlapped
      expect(replies.map((r) => r.status)).toEqual(Array.from({ length: writers }, () => 200));
      for (const reply of replies) expect(setCookieValue(reply)).toBe(key);
      // One process: the saves that queue behind a write in flight are merged into the next
      // write, so none meets a conflict and fewer writes than requests reach the store.
      expect(backend.conflicts).toBe(0);
      expect(backend.updates).toBeGreaterThan(0);
      expect(backend.updates).toBeLessThan(writers);

      const expected: Record<string, unknown> = { init: true };
      for (let i = 0; i < writers; i++) expected[`k${i}`] = i;
      const all = await get(server.url, "/all", cookie);
      expect(JSON.parse(all.body)).toEqual(expected);
      const record = await backend.load(key, Date.now());
      expect(record?.version).toBe(backend.updates + 1);
    });

    it(`${writers} concurrent writers and a flush(): the session is gone and never comes back`, async () => {
      const { backend, server, gate } = await start(writers + 1);
      const init = await get(server.url, "/init");
      const key = setCookieValue(init) as string;
      const cookie = { Cookie: `sessionid=${key}` };

      const flushing = get(server.url, "/flush", cookie);
      const writing = Promise.all(Array.from({ length: writers }, (_, i) => get(server.url, `/set/${i}`, cookie)));
      const [flushed, replies] = await Promise.all([flushing, writing]);
      expect(gate.arrived).toBe(writers + 1);
      expect(flushed.status).toBe(200);
      expect(setCookieValue(flushed)).toBe(""); // the cookie is deleted

      // Each writer either saved before the flush (and the flush then deleted it) or found the
      // session gone: 400, never a 500, never a resurrected record.
      const statuses = new Set(replies.map((r) => r.status));
      for (const status of statuses) expect([200, 400]).toContain(status);
      for (const reply of replies.filter((r) => r.status === 400)) {
        expect(reply.body).toBe("SESSION_INTERRUPTED");
        expect(setCookieValue(reply)).toBeUndefined();
      }
      for (const reply of replies.filter((r) => r.status === 200)) expect(setCookieValue(reply)).toBe(key);
      expect(await backend.exists(key)).toBe(false);

      // Later requests with the old cookie: the old data is gone; a write starts a new session.
      const after: Reply = await get(server.url, "/all", cookie);
      expect(JSON.parse(after.body)).toEqual({});
      expect(setCookieValue(after)).toBe("");
      const rewrite = await get(server.url, "/set/7", cookie);
      const fresh = setCookieValue(rewrite) as string;
      expect(rewrite.status).toBe(200);
      expect(fresh).toMatch(/^[a-z0-9]{32}$/);
      expect(fresh).not.toBe(key);
      expect(JSON.parse((await get(server.url, "/all", { Cookie: `sessionid=${fresh}` })).body)).toEqual({ k7: 7 });
      expect(await backend.exists(key)).toBe(false);
    });
  });
}
