/**
 * The adapter conformance suite: the same HTTP scenarios, over real sockets, against every
 * framework adapter. It is imported by `test/adapters/<framework>.test.ts`; the test glob never
 * runs it on its own.
 *
 * Plugging an adapter in is the whole contract below:
 *
 * ```ts
 * runAdapterSuite({
 *   name: "express",
 *   // Called once per test with that test's `sessions`. Build an app that uses the adapter and
 *   // answers `GET <path>` for every entry of `routes` by calling `routes[path](session)` with
 *   // the request's session and sending the `RouteResult` it resolves to:
 *   //   { kind: "text", status, body }   -> that status, `body` as text/plain
 *   //   { kind: "redirect", location }   -> 302 with `Location`, through the framework's redirect
 *   //   { kind: "stream", chunks }       -> 200, each chunk written as the AsyncIterable yields it
 *   // A route that rejects must reach the framework's own error path (normally a 500).
 *   // Listen on 127.0.0.1 port 0 (`listenOn(server)` does it for a node:http server).
 *   start: async (sessions, routes) => listenOn(http.createServer(app)),
 *   // Behaviour the framework cannot have: exact test titles, with the reason shown in the report.
 *   skip: [{ reason: "why", tests: ["exact test title"] }],
 * });
 * ```
 *
 * Every test uses a fixed clock and a memory backend wrapped in `countingBackend`, so the exact
 * store I/O of each request is asserted (an untouched request does none at all). Expected
 * `Set-Cookie` headers are asserted byte for byte, and compared attribute by attribute with the
 * headers Django was observed to send (reference/django-semantics.md section 3.1).
 * @module
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createSessions, type ServerBackend, type Session, type Sessions, type SessionsOptions } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { countingBackend } from "../helpers.js";

// ---- the plugging contract ----

/** What a test route asks the adapter to send. */
export type RouteResult =
  | { readonly kind: "text"; readonly status: number; readonly body: string }
  | { readonly kind: "redirect"; readonly location: string }
  | { readonly kind: "stream"; readonly chunks: AsyncIterable<string> };

/** A framework-neutral test route: it uses the request's session and says what to send. */
export type Route = (session: Session) => Promise<RouteResult>;

/** The test routes, by path; every one answers GET. */
export type Routes = Readonly<Record<string, Route>>;

/** A server started for one test. */
export interface RunningServer {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  close(): Promise<void>;
}

/** Tests an adapter cannot pass, named by their exact titles, with the reason. */
export interface SkippedTests {
  readonly reason: string;
  readonly tests: readonly string[];
}

/** Options of {@link runAdapterSuite}. */
export interface AdapterSuiteOptions {
  /** The adapter's name, shown in the report. */
  readonly name: string;
  /** Starts a server that serves `routes` through the adapter, using `sessions`. */
  start(sessions: Sessions, routes: Routes): Promise<RunningServer>;
  readonly skip?: readonly SkippedTests[];
}

/** Starts a node:http server on 127.0.0.1, port 0, and gives its URL and a `close` that ends it. */
export async function listenOn(server: Server): Promise<RunningServer> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A stalled test must not keep the server open: drop the connections too.
        server.closeAllConnections();
      }),
  };
}

// ---- fixtures ----

/** The fixed clock: Django's observed headers (section 3.1) were taken at this instant. */
export const NOW = 1_700_000_000_000;
const TWO_WEEKS = 1_209_600;
/** `Expires` for NOW + two weeks and NOW + 300 s, as Django printed them. */
const EXPIRES_TWO_WEEKS = "Tue, 28 Nov 2023 22:13:20 GMT";
const EXPIRES_300 = "Tue, 14 Nov 2023 22:18:20 GMT";
const EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT";
const KEY = /^[a-z0-9]{32}$/;
/** A well-formed key no store has. */
const UNKNOWN_KEY = "abcdefghijklmnopqrstuvwxyz012345";

/** The session cookie Tessera sends with default options (Secure is Tessera's default). */
const defaultCookie = (key: string) => `sessionid=${key}; Max-Age=${TWO_WEEKS}; Path=/; Expires=${EXPIRES_TWO_WEEKS}; HttpOnly; Secure; SameSite=Lax`;
/** Django's deletion cookie with default options. */
export const DELETION = `sessionid=; Max-Age=0; Path=/; Expires=${EPOCH}; SameSite=Lax`;

/**
 * Django's observed headers (section 3.1, clock 1700000000, SESSION_COOKIE_SECURE False as in
 * Django's defaults); `…` dates written out.
 */
const DJANGO = {
  newSession: `sessionid=<K>; expires=${EXPIRES_TWO_WEEKS}; HttpOnly; Max-Age=1209600; Path=/; SameSite=Lax`,
  browserClose: "sessionid=<K>; HttpOnly; Path=/; SameSite=Lax",
  expiry300: `sessionid=<K>; expires=${EXPIRES_300}; HttpOnly; Max-Age=300; Path=/; SameSite=Lax`,
  noneSecureDomainPath: `sessionid=<K>; Domain=.ex.com; expires=${EXPIRES_TWO_WEEKS}; HttpOnly; Max-Age=1209600; Path=/p/; SameSite=None; Secure`,
  noneSecureDomainPathFlush: `sessionid=""; Domain=.ex.com; expires=${EPOCH}; Max-Age=0; Path=/p/; SameSite=None; Secure`,
  noSameSiteNoHttpOnly: `sessionid=<K>; expires=${EXPIRES_TWO_WEEKS}; Max-Age=1209600; Path=/`,
  deletion: `sessionid=""; expires=${EPOCH}; Max-Age=0; Path=/; SameSite=Lax`,
};

/**
 * A Set-Cookie header as comparable data: attribute names case-folded and sorted (Python's
 * Morsel sorts them, the `cookie` package does not), and Python's `""` for an empty value read
 * as empty.
 */
function cookieShape(header: string, key = "<K>"): { pair: string; attributes: string[] } {
  const [pair = "", ...attributes] = header.replace(key, "<K>").split("; ");
  return {
    pair: pair.replace(/=""$/, "="),
    attributes: attributes.map((a) => a.replace(/^[^=]+/, (name) => name.toLowerCase())).sort(),
  };
}

function expectSameAsDjango(ours: string | undefined, django: string, key?: string): void {
  expect(ours).toBeDefined();
  expect(cookieShape(ours ?? "", key)).toEqual(cookieShape(django));
}

/**
 * Asserts that `Vary` names Cookie exactly once (`present`) or not at all. Fields the framework
 * adds itself (Express's redirect adds Accept) are left alone.
 */
function expectVaryCookie(vary: string | undefined, present: boolean): void {
  const cookieFields = (vary ?? "")
    .split(",")
    .map((f) => f.trim())
    .filter((f) => f.toLowerCase() === "cookie");
  expect(cookieFields, `Vary: ${String(vary)}`).toEqual(present ? ["Cookie"] : []);
}

/** A promise with its resolver outside, to line up two requests. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Per-test coordination between the test and its routes. */
interface RouteState {
  /** The interrupt route has loaded its session and waits for `interruptGate`. */
  readonly interruptReached: ReturnType<typeof deferred>;
  readonly interruptGate: ReturnType<typeof deferred>;
  /** The stream route sends its first chunk, then waits for `streamGate` (at most 2 s). */
  readonly streamGate: ReturnType<typeof deferred>;
  streamEnded: boolean;
  /** The concurrent routes each load, then wait until both have (at most 2 s), then write. */
  concurrentArrivals: number;
  readonly concurrentBarrier: ReturnType<typeof deferred>;
}

const text = (body: string, status = 200): RouteResult => ({ kind: "text", status, body });

/** A route that loads, waits for its twin to have loaded too, then sets `name`. */
function concurrentWrite(state: RouteState, name: string): Route {
  return async (session) => {
    await session.get("count");
    if (++state.concurrentArrivals === 2) state.concurrentBarrier.resolve();
    await Promise.race([state.concurrentBarrier.promise, sleep(2000)]);
    await session.set(name, true);
    return text(name);
  };
}

/** The test routes. Each scenario below says which one it calls. */
function makeRoutes(state: RouteState): Routes {
  return {
    "/untouched": async () => text("ok"),
    "/read": async (session) => text(JSON.stringify((await session.get("count")) ?? null)),
    "/write": async (session) => {
      const count = ((await session.get("count")) as number | undefined) ?? 0;
      await session.set("count", count + 1);
      return text(String(count + 1));
    },
    "/flush": async (session) => {
      await session.flush();
      return text("flushed");
    },
    "/clear": async (session) => {
      await session.clear();
      return text("cleared");
    },
    "/cycle": async (session) => {
      await session.set("user", "alice");
      await session.cycleKey();
      return text("cycled");
    },
    "/expiry-0": async (session) => {
      await session.set("count", 1);
      await session.setExpiry(0);
      return text("browser close");
    },
    "/expiry-300": async (session) => {
      await session.set("count", 1);
      await session.setExpiry(300);
      return text("five minutes");
    },
    "/status-500": async (session) => {
      await session.set("count", 1);
      return text("server error", 500);
    },
    "/status-499": async (session) => {
      await session.set("count", 1);
      return text("client closed", 499);
    },
    "/throw": async (session) => {
      await session.set("count", 1);
      throw new Error("the route failed after a write");
    },
    "/redirect": async (session) => {
      await session.set("count", 1);
      return { kind: "redirect", location: "/read" };
    },
    "/stream": async (session) => {
      await session.set("streamed", true);
      async function* chunks(): AsyncGenerator<string> {
        yield "chunk-1\n";
        await Promise.race([state.streamGate.promise, sleep(2000)]);
        yield "chunk-2\n";
        yield "chunk-3\n";
        state.streamEnded = true;
      }
      return { kind: "stream", chunks: chunks() };
    },
    "/stream-fail": async (session) => {
      await session.set("streamed", true);
      async function* chunks(): AsyncGenerator<string> {
        yield "chunk-1\n";
        throw new Error("the stream failed after its first chunk");
      }
      return { kind: "stream", chunks: chunks() };
    },
    "/save-twice": async (session) => {
      await session.set("a", 1);
      await session.save();
      await session.set("b", 2);
      await session.save();
      return text("saved twice");
    },
    "/concurrent-a": concurrentWrite(state, "a"),
    "/concurrent-b": concurrentWrite(state, "b"),
    "/interrupt": async (session) => {
      await session.get("count");
      state.interruptReached.resolve();
      await state.interruptGate.promise;
      await session.set("count", 99);
      return text("written after the record was deleted");
    },
  };
}

// ---- the HTTP client ----

/** A response as the tests look at it. */
interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly setCookies: string[];
  /** Every `Vary` header, joined (a duplicate would show as "Cookie, Cookie"). */
  readonly vary: string | undefined;
  readonly body: string;
}

/**
 * GET over node:http (not fetch, so any Cookie header can be sent verbatim). `onHeaders` runs
 * when the status line and headers arrive, before the body.
 */
function get(url: string, cookie?: string, onHeaders?: (answer: Omit<Answer, "body">) => void): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, headers: cookie === undefined ? {} : { cookie } }, (res) => {
      const head = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        setCookies: res.headers["set-cookie"] ?? [],
        vary: res.headers.vary,
      };
      onHeaders?.(head);
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ ...head, body }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** The key in a session Set-Cookie header. */
function keyOf(setCookie: string | undefined): string {
  const match = /^sessionid=([a-z0-9]*);/.exec(setCookie ?? "");
  if (!match) throw new Error(`not a session cookie: ${String(setCookie)}`);
  return match[1] ?? "";
}

const quietLogger = { warn: () => {}, error: () => {} };

// ---- the suite ----

/** Registers the adapter conformance scenarios for one adapter. */
export function runAdapterSuite(adapter: AdapterSuiteOptions): void {
  const skipped = new Map<string, string>();
  for (const { reason, tests } of adapter.skip ?? []) for (const title of tests) skipped.set(title, reason);
  const titles = new Set<string>();

  /** `it`, or a skip whose title carries the reason: nothing is skipped silently. */
  const scenario = (title: string, body: () => Promise<void>) => {
    titles.add(title);
    const reason = skipped.get(title);
    if (reason === undefined) it(title, body);
    else it.skip(`${title} [skipped for ${adapter.name}: ${reason}]`, body);
  };

  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** Starts the adapter for one test: a counting store, a fixed clock, the routes. */
  async function setup(options: Omit<SessionsOptions, "backend" | "clock" | "logger"> = {}) {
    const store = countingBackend(memoryBackend());
    const sessions = createSessions({ ...options, backend: store, clock: () => NOW, logger: quietLogger });
    const state: RouteState = {
      interruptReached: deferred(),
      interruptGate: deferred(),
      streamGate: deferred(),
      streamEnded: false,
      concurrentArrivals: 0,
      concurrentBarrier: deferred(),
    };
    // Nothing may wait on a gate after its test ended.
    cleanups.push(async () => {
      state.interruptGate.resolve();
      state.streamGate.resolve();
      state.concurrentBarrier.resolve();
    });
    const server = await adapter.start(sessions, makeRoutes(state));
    cleanups.push(() => server.close());
    return {
      store,
      sessions,
      state,
      get: (path: string, cookie?: string, onHeaders?: (answer: Omit<Answer, "body">) => void) => get(server.url + path, cookie, onHeaders),
      /** A stored session with `data`, made through the public API; the call log starts empty after it. */
      async seed(data: Record<string, unknown>): Promise<string> {
        const session = sessions.open();
        await session.update(data);
        await session.save();
        store.reset();
        return session.sessionKey ?? "";
      },
      /** The stored data for `key`, or null when there is no live record. */
      async stored(key: string): Promise<Record<string, unknown> | null> {
        const record = await store.inner.load(key, NOW);
        return record === null ? null : (JSON.parse(record.data) as Record<string, unknown>);
      },
    };
  }

  describe(`adapter conformance: ${adapter.name}`, () => {
    scenario("new session: Django's cookie attributes, Expires = clock + Max-Age, and Vary: Cookie", async () => {
      const t = await setup();
      const answer = await t.get("/write");
      expect(answer.status).toBe(200);
      expect(answer.body).toBe("1");
      expect(answer.setCookies).toHaveLength(1);
      const key = keyOf(answer.setCookies[0]);
      expect(key).toMatch(KEY);
      expect(answer.setCookies).toEqual([defaultCookie(key)]);
      expectVaryCookie(answer.vary, true);
      expect(t.store.methods()).toEqual(["create"]);
      expect(await t.stored(key)).toEqual({ count: 1 });
      expect((await t.store.inner.load(key, NOW))?.expiresAt).toBe(NOW + TWO_WEEKS * 1000);
    });

    scenario("read back with the cookie: the data, Vary: Cookie, no Set-Cookie, one load", async () => {
      const t = await setup();
      const key = await t.seed({ count: 5 });
      const answer = await t.get("/read", `sessionid=${key}`);
      expect(answer.status).toBe(200);
      expect(answer.body).toBe("5");
      expect(answer.setCookies).toEqual([]);
      expectVaryCookie(answer.vary, true);
      expect(t.store.methods()).toEqual(["load"]);
    });

    scenario("write to an existing session: same key, cookie refreshed, update stored", async () => {
      const t = await setup();
      const key = await t.seed({ count: 5 });
      const answer = await t.get("/write", `sessionid=${key}`);
      expect(answer.body).toBe("6");
      expect(answer.setCookies).toEqual([defaultCookie(key)]);
      expectVaryCookie(answer.vary, true);
      expect(t.store.methods()).toEqual(["load", "update"]);
      expect(await t.stored(key)).toEqual({ count: 6 });
    });

    scenario("untouched request: no Set-Cookie, no Vary, zero store calls", async () => {
      const t = await setup();
      const key = await t.seed({ count: 5 });
      for (const cookie of [undefined, `sessionid=${key}`, `other=1; sessionid=${UNKNOWN_KEY}`]) {
        const answer = await t.get("/untouched", cookie);
        expect(answer.status).toBe(200);
        expect(answer.body).toBe("ok");
        expect(answer.setCookies).toEqual([]);
        expectVaryCookie(answer.vary, false);
      }
      expect(t.store.log).toEqual([]);
    });

    scenario("flush: the record is deleted and Django's deletion cookie sent, with Vary: Cookie", async () => {
      const t = await setup();
      const key = await t.seed({ count: 5 });
      const answer = await t.get("/flush", `sessionid=${key}`);
      expect(answer.status).toBe(200);
      expect(answer.setCookies).toEqual([DELETION]);
      expectSameAsDjango(answer.setCookies[0], DJANGO.deletion);
      expectVaryCookie(answer.vary, true);
      expect(t.store.methods()).toEqual(["delete"]);
      expect(await t.stored(key)).toBeNull();
    });

    scenario("clear: the key stays, the empty data is saved and the cookie refreshed", async () => {
      const t = await setup();
      const key = await t.seed({ count: 5 });
      const answer = await t.get("/clear", `sessionid=${key}`);
      expect(answer.setCookies).toEqual([defaultCookie(key)]);
      expectVaryCookie(answer.vary, true);
      expect(await t.stored(key)).toEqual({});
    });

    scenario("cycleKey: a new key in the cookie, the data kept, the old record gone", async () => {
      const t = await setup();
      const oldKey = await t.seed({ count: 5 });
      const answer = await t.get("/cycle", `sessionid=${oldKey}`);
      expect(answer.setCookies).toHaveLength(1);
      const newKey = keyOf(answer.setCookies[0]);
      expect(newKey).toMatch(KEY);
      expect(newKey).not.toBe(oldKey);
      expect(answer.setCookies).toEqual([defaultCookie(newKey)]);
      expectVaryCookie(answer.vary, true);
      expect(await t.stored(oldKey)).toBeNull();
      expect(await t.stored(newKey)).toEqual({ count: 5, user: "alice" });
      expect(t.store.log.filter((c) => c.method === "delete")).toEqual([{ method: "delete", key: oldKey }]);
    });

    scenario("setExpiry(0): a browser-session cookie, without Max-Age or Expires", async () => {
      const t = await setup();
      const answer = await t.get("/expiry-0");
      const key = keyOf(answer.setCookies[0]);
      expect(answer.setCookies).toEqual([`sessionid=${key}; Path=/; HttpOnly; Secure; SameSite=Lax`]);
      expectVaryCookie(answer.vary, true);
      expect(await t.stored(key)).toEqual({ count: 1, _session_expiry: 0 });
    });

    scenario("setExpiry(300): Max-Age=300 and Expires five minutes after the clock", async () => {
      const t = await setup();
      const answer = await t.get("/expiry-300");
      const key = keyOf(answer.setCookies[0]);
      expect(answer.setCookies).toEqual([`sessionid=${key}; Max-Age=300; Path=/; Expires=${EXPIRES_300}; HttpOnly; Secure; SameSite=Lax`]);
      expect((await t.store.inner.load(key, NOW))?.expiresAt).toBe(NOW + 300_000);
    });

    scenario("saveEveryRequest: an untouched session is saved and its cookie refreshed, without Vary", async () => {
      const t = await setup({ saveEveryRequest: true });
      const key = await t.seed({ count: 5 });
      const answer = await t.get("/untouched", `sessionid=${key}`);
      expect(answer.setCookies).toEqual([defaultCookie(key)]);
      expectVaryCookie(answer.vary, false);
      expect(t.store.methods()).toEqual(["load", "update"]);
      // No cookie and nothing touched: the session is empty, so nothing is saved or sent.
      t.store.reset();
      const fresh = await t.get("/untouched");
      expect(fresh.setCookies).toEqual([]);
      expectVaryCookie(fresh.vary, false);
      expect(t.store.log).toEqual([]);
    });

    scenario("a 5xx response: no save and no cookie, but Vary: Cookie; a 499 still saves", async () => {
      const t = await setup();
      const failed = await t.get("/status-500");
      expect(failed.status).toBe(500);
      expect(failed.setCookies).toEqual([]);
      expectVaryCookie(failed.vary, true);
      expect(t.store.log).toEqual([]);

      const clientError = await t.get("/status-499");
      expect(clientError.status).toBe(499);
      expect(clientError.setCookies).toEqual([defaultCookie(keyOf(clientError.setCookies[0]))]);
      expect(t.store.methods()).toEqual(["create"]);
    });

    scenario("a route that throws after a write: the framework's 500, no save, no cookie", async () => {
      const t = await setup();
      const answer = await t.get("/throw");
      expect(answer.status).toBe(500);
      expect(answer.setCookies).toEqual([]);
      expectVaryCookie(answer.vary, true);
      expect(t.store.log).toEqual([]);
    });

    scenario("redirect after a write: the 302 carries the cookie and the write is stored", async () => {
      const t = await setup();
      const answer = await t.get("/redirect");
      expect(answer.status).toBe(302);
      expect(answer.headers.location).toBe("/read");
      expect(answer.setCookies).toHaveLength(1);
      const key = keyOf(answer.setCookies[0]);
      expect(answer.setCookies).toEqual([defaultCookie(key)]);
      expectVaryCookie(answer.vary, true);
      expect(await t.stored(key)).toEqual({ count: 1 });
      // Following the redirect with the cookie finds the write.
      expect((await t.get("/read", `sessionid=${key}`)).body).toBe("1");
    });

    scenario("streamed response: the cookie is in the headers, saved before the body ends", async () => {
      const t = await setup();
      let atHeaders: { setCookies: string[]; vary: string | undefined; stored: string[]; streamEnded: boolean } | undefined;
      const answer = await t.get("/stream", undefined, (head) => {
        atHeaders = { setCookies: head.setCookies, vary: head.vary, stored: t.store.methods(), streamEnded: t.state.streamEnded };
        t.state.streamGate.resolve();
      });
      expect(answer.status).toBe(200);
      expect(answer.body).toBe("chunk-1\nchunk-2\nchunk-3\n");
      // The headers arrived while the route was still streaming, and the save had already happened.
      expect(atHeaders?.streamEnded).toBe(false);
      expect(atHeaders?.stored).toEqual(["create"]);
      const key = keyOf(atHeaders?.setCookies[0]);
      expect(atHeaders?.setCookies).toEqual([defaultCookie(key)]);
      expectVaryCookie(atHeaders?.vary, true);
      expect(await t.stored(key)).toEqual({ streamed: true });
    });

    scenario("a stream that fails after its first chunk: the response is aborted, the server keeps serving", async () => {
      const t = await setup();
      // The status line may or may not have left; either way the client must not see a complete answer.
      await expect(t.get("/stream-fail")).rejects.toThrow();
      const next = await t.get("/untouched");
      expect(next.status).toBe(200);
      expect(next.body).toBe("ok");
    });

    scenario("two saves in one request: exactly one Set-Cookie, both writes stored", async () => {
      const t = await setup();
      const answer = await t.get("/save-twice");
      expect(answer.setCookies).toHaveLength(1);
      const key = keyOf(answer.setCookies[0]);
      expect(answer.setCookies).toEqual([defaultCookie(key)]);
      expectVaryCookie(answer.vary, true);
      expect(await t.stored(key)).toEqual({ a: 1, b: 2 });
      expect(t.store.methods().filter((m) => m === "create")).toHaveLength(1);
    });

    scenario("unknown key: an empty session, no record created, the cookie deleted only if accessed", async () => {
      const t = await setup();
      const cookie = `sessionid=${UNKNOWN_KEY}`;
      const untouched = await t.get("/untouched", cookie);
      expect(untouched.setCookies).toEqual([]);
      expectVaryCookie(untouched.vary, false);
      expect(t.store.log).toEqual([]);

      const read = await t.get("/read", cookie);
      expect(read.body).toBe("null");
      expect(read.setCookies).toEqual([DELETION]);
      expectSameAsDjango(read.setCookies[0], DJANGO.deletion);
      expectVaryCookie(read.vary, true);
      expect(t.store.methods()).toEqual(["load"]);
      expect(await t.store.inner.exists(UNKNOWN_KEY)).toBe(false);

      // A write gets a fresh key; the unknown one is never stored.
      const write = await t.get("/write", cookie);
      const key = keyOf(write.setCookies[0]);
      expect(key).not.toBe(UNKNOWN_KEY);
      expect(write.setCookies).toEqual([defaultCookie(key)]);
      expect(await t.store.inner.exists(UNKNOWN_KEY)).toBe(false);
    });

    scenario('short cookie "abc": deleted even when the route never touches the session', async () => {
      const t = await setup();
      const answer = await t.get("/untouched", "sessionid=abc");
      expect(answer.status).toBe(200);
      expect(answer.setCookies).toEqual([DELETION]);
      expectSameAsDjango(answer.setCookies[0], DJANGO.deletion);
      expectVaryCookie(answer.vary, true);
      expect(t.store.log).toEqual([]);
    });

    scenario("a value outside the key alphabet never reaches the store and is deleted like a short one", async () => {
      // Tessera's rule beyond Django's: only [a-z0-9]{8,40} can name a record.
      const t = await setup();
      for (const value of ["ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", "..%2F..%2Fetc%2Fpasswd", `${UNKNOWN_KEY}x${UNKNOWN_KEY}`]) {
        const answer = await t.get("/read", `sessionid=${value}`);
        expect(answer.status).toBe(200);
        expect(answer.body).toBe("null");
        expect(answer.setCookies).toEqual([DELETION]);
      }
      expect(t.store.log).toEqual([]);
    });

    scenario("interrupted session: deleted by another request mid-flight, answered 400 and not resurrected", async () => {
      const t = await setup();
      const key = await t.seed({ count: 5 });
      const first = t.get("/interrupt", `sessionid=${key}`);
      await t.state.interruptReached.promise;
      // Another request (logout in a second tab) deletes the record while the first one runs.
      const logout = await t.get("/flush", `sessionid=${key}`);
      expect(logout.setCookies).toEqual([DELETION]);
      t.state.interruptGate.resolve();
      const answer = await first;
      expect(answer.status).toBe(400);
      expect(answer.setCookies).toEqual([]);
      expect(await t.store.inner.exists(key)).toBe(false);
      expect(t.store.methods().filter((m) => m === "create")).toEqual([]);
    });

    scenario("two concurrent requests writing different keys of one session both keep their change", async () => {
      const t = await setup();
      const key = await t.seed({ count: 5 });
      const [a, b] = await Promise.all([t.get("/concurrent-a", `sessionid=${key}`), t.get("/concurrent-b", `sessionid=${key}`)]);
      expect([a.status, a.body, b.status, b.body]).toEqual([200, "a", 200, "b"]);
      expect(a.setCookies).toEqual([defaultCookie(key)]);
      expect(b.setCookies).toEqual([defaultCookie(key)]);
      expect(await t.stored(key)).toEqual({ count: 5, a: true, b: true });
    });

    scenario("backend outage: 503 from the default error path, while an untouched request still answers 200", async () => {
      const t = await setup();
      const key = await t.seed({ count: 5 });
      t.store.failing = true;

      const untouched = await t.get("/untouched", `sessionid=${key}`);
      expect(untouched.status).toBe(200);
      expect(untouched.body).toBe("ok");
      expect(t.store.log).toEqual([]);

      // The load fails inside the route...
      const read = await t.get("/read", `sessionid=${key}`);
      expect(read.status).toBe(503);
      expect(read.setCookies).toEqual([]);
      // ...and the save fails in the commit, after the route has answered.
      const write = await t.get("/write");
      expect(write.status).toBe(503);
      expect(write.setCookies).toEqual([]);
      expect(write.body).not.toBe("1");
      // ...also when the route has begun a stream: nothing of it goes out.
      const stream = await t.get("/stream");
      t.state.streamGate.resolve();
      expect(stream.status).toBe(503);
      expect(stream.setCookies).toEqual([]);
      // A distinctive chunk: an error page may print stack paths, which can contain any short word.
      expect(stream.body).not.toContain("chunk-1");
      expect(t.store.methods()).toEqual(["load", "create", "create"]);
    });

    scenario("malformed Cookie headers never cause a 500; quotes and percent-encoding are undone", async () => {
      const t = await setup();
      const key = await t.seed({ count: 5 });
      const hostile = [
        "sessionid=%E0%A4%A",
        "sessionid=%",
        "sessionid=%zz%",
        'sessionid="unterminated',
        'sessionid=""',
        "sessionid=",
        "sessionid",
        "=; ;;=;=a",
        ";;;",
        "__proto__=x; constructor=y; sessionid=__proto__",
        `a=${"x".repeat(4000)}; b=${"y".repeat(4000)}; sessionid=${"z".repeat(4000)}`,
      ];
      for (const cookie of hostile) {
        const answer = await t.get("/read", cookie);
        expect(answer.status, cookie.slice(0, 60)).toBe(200);
        expect(answer.body, cookie.slice(0, 60)).toBe("null");
      }
      expect(t.store.log).toEqual([]);
      for (const cookie of [`sessionid="${key}"`, `sessionid=${key.replace(/^./, (c) => `%${c.charCodeAt(0).toString(16)}`)}`, `a=1;sessionid=${key};b=2`]) {
        const answer = await t.get("/read", cookie);
        expect(answer.body, cookie).toBe("5");
        expect(answer.setCookies).toEqual([]);
      }
    });

    scenario("settings: Domain, Path and SameSite=None + Secure, on the session and the deletion cookie", async () => {
      const t = await setup({ cookie: { domain: ".ex.com", path: "/p/", sameSite: "none", secure: true } });
      const written = await t.get("/write");
      const key = keyOf(written.setCookies[0]);
      expect(written.setCookies).toEqual([
        `sessionid=${key}; Max-Age=${TWO_WEEKS}; Domain=.ex.com; Path=/p/; Expires=${EXPIRES_TWO_WEEKS}; HttpOnly; Secure; SameSite=None`,
      ]);
      expectSameAsDjango(written.setCookies[0], DJANGO.noneSecureDomainPath, key);

      const flushed = await t.get("/flush", `sessionid=${key}`);
      expect(flushed.setCookies).toEqual([`sessionid=; Max-Age=0; Domain=.ex.com; Path=/p/; Expires=${EPOCH}; Secure; SameSite=None`]);
      expectSameAsDjango(flushed.setCookies[0], DJANGO.noneSecureDomainPathFlush);
      expectVaryCookie(flushed.vary, true);
    });

    scenario("settings: a custom cookie name is the only one read and written", async () => {
      const t = await setup({ cookie: { name: "tessera_sid" } });
      const key = await t.seed({ count: 5 });
      expect((await t.get("/read", `sessionid=${key}`)).body).toBe("null");
      const answer = await t.get("/write", `sessionid=${UNKNOWN_KEY}; tessera_sid=${key}`);
      expect(answer.body).toBe("6");
      expect(answer.setCookies).toEqual([`tessera_sid=${key}; Max-Age=${TWO_WEEKS}; Path=/; Expires=${EXPIRES_TWO_WEEKS}; HttpOnly; Secure; SameSite=Lax`]);
      const flushed = await t.get("/flush", `tessera_sid=${key}`);
      expect(flushed.setCookies).toEqual([`tessera_sid=; Max-Age=0; Path=/; Expires=${EPOCH}; SameSite=Lax`]);
    });

    scenario("settings: SameSite false and httpOnly false leave both attributes out", async () => {
      const t = await setup({ cookie: { sameSite: false, httpOnly: false, secure: false } });
      const answer = await t.get("/write");
      const key = keyOf(answer.setCookies[0]);
      expect(answer.setCookies).toEqual([`sessionid=${key}; Max-Age=${TWO_WEEKS}; Path=/; Expires=${EXPIRES_TWO_WEEKS}`]);
      expectSameAsDjango(answer.setCookies[0], DJANGO.noSameSiteNoHttpOnly, key);
    });

    scenario("settings: with Django's defaults (secure: false) the headers match Django's observed ones", async () => {
      const t = await setup({ cookie: { secure: false } });
      const created = await t.get("/write");
      const key = keyOf(created.setCookies[0]);
      expectSameAsDjango(created.setCookies[0], DJANGO.newSession, key);
      const browserClose = await t.get("/expiry-0");
      expectSameAsDjango(browserClose.setCookies[0], DJANGO.browserClose, keyOf(browserClose.setCookies[0]));
      const fiveMinutes = await t.get("/expiry-300");
      expectSameAsDjango(fiveMinutes.setCookies[0], DJANGO.expiry300, keyOf(fiveMinutes.setCookies[0]));
      const flushed = await t.get("/flush", `sessionid=${key}`);
      expectSameAsDjango(flushed.setCookies[0], DJANGO.deletion);
    });

    it("names only tests that exist in its skip list", () => {
      const unknown = [...skipped.keys()].filter((title) => !titles.has(title));
      expect(unknown, "skip entries that match no test title").toEqual([]);
    });
  });
}

// ---- the web scenarios: what the suite's framework-neutral routes cannot express ----

/*
 * Koa, Hono, Fetch, h3 and the built fixtures (SvelteKit, Astro) also serve these routes with
 * their framework's own code, and `describeWebScenarios` checks over a real socket what the
 * routes above cannot say (the handler's own headers kept, a redirect's headers not leaking into
 * the 400); each test file's framework specifics use the same routes.
 *
 * Routes every such app serves, using `ctx.session` / `c.var.session` / the fetch session:
 *   GET /read                 200, body = session "name" or "none"
 *   GET /write?name=x         200 "saved" after set("name", x)
 *   GET /flush                200 "flushed" after flush()
 *   GET /interrupt            loads, deletes the record behind the session's back, sets, redirects: 400
 *   GET /own-headers          sets its own cookie "theme=dark; Path=/" and "Vary: Accept-Encoding", then set("name", "own")
 */

const SESSION_COOKIE = /^sessionid=([a-z0-9]{32}); Max-Age=1209600; Path=\/; Expires=Tue, 28 Nov 2023 22:13:20 GMT; HttpOnly; Secure; SameSite=Lax$/;

export type CountingBackend = ReturnType<typeof countingBackend>;

/** A fresh store and sessions with the default options and the fixed clock. */
export function testSessions(backend: ServerBackend = memoryBackend()): { store: CountingBackend; sessions: Sessions } {
  const store = countingBackend(backend);
  return { store, sessions: createSessions({ backend: store, clock: () => NOW }) };
}

/** A node:http server for `listener` on 127.0.0.1, port 0 (see {@link listenOn}). */
export const listen = (listener: RequestListener): Promise<RunningServer> => listenOn(createServer(listener));

/** The session key in a session `Set-Cookie` value, after checking every attribute exactly. */
export function keyFrom(setCookie: string | undefined): string {
  const match = SESSION_COOKIE.exec(setCookie ?? "");
  expect(match, `not a session cookie: ${setCookie}`).not.toBeNull();
  return (match as RegExpExecArray)[1] as string;
}

/** Registers the shared scenarios against an app built by `start` for the given sessions. */
export function describeWebScenarios(name: string, start: (sessions: Sessions, store: CountingBackend) => Promise<RunningServer>): void {
  describe(`${name}: beyond the conformance suite`, () => {
    let store: CountingBackend;
    let server: RunningServer;
    const get = (path: string, cookie?: string) =>
      fetch(server.url + path, { redirect: "manual", ...(cookie === undefined ? {} : { headers: { cookie: `sessionid=${cookie}` } }) });
    /** A stored session with name "ann"; returns its key. */
    const login = async () => keyFrom((await get("/write?name=ann")).headers.get("set-cookie") ?? undefined);

    beforeAll(async () => {
      const made = testSessions();
      store = made.store;
      server = await start(made.sessions, store);
    });
    afterAll(() => server.close());

    it("a session deleted during a request that redirects: 400, and nothing of the redirect leaks", async () => {
      const key = await login();
      const res = await get("/interrupt", key);
      expect(res.status).toBe(400);
      expect(res.headers.get("location")).toBeNull();
      expect(res.headers.getSetCookie()).toEqual([]);
      expect(await store.exists(key)).toBe(false);
    });

    it("the handler's own Set-Cookie and Vary are kept beside the session's", async () => {
      const res = await get("/own-headers");
      const cookies = res.headers.getSetCookie();
      expect(cookies).toHaveLength(2);
      expect(cookies[0]).toBe("theme=dark; Path=/");
      keyFrom(cookies[1]);
      expect(res.headers.get("vary")).toBe("Accept-Encoding, Cookie");
    });
  });
}

/** A byte stream of `chunks`, pulled one at a time; an error in `chunks` errors the stream. */
export function streamOf(chunks: AsyncIterable<string>): ReadableStream<Uint8Array> {
  const iterator = chunks[Symbol.asyncIterator]();
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await iterator.next();
      if (done) controller.close();
      else controller.enqueue(encoder.encode(value));
    },
    async cancel() {
      await iterator.return?.();
    },
  });
}
