/**
 * The HTTP scenarios the Koa, Hono and Fetch adapter tests share. Each test file builds a small
 * app serving the routes below with its framework, and `describeWebScenarios` drives it over a
 * real socket. (test/adapters/adapter.suite.ts is the project-wide suite; this one is focused.)
 *
 * Routes every app serves, using `ctx.session` / `c.var.session` / the fetch session:
 *   GET /untouched            200 "ok", never touches the session
 *   GET /read                 200, body = session "name" or "none"
 *   GET /write?name=x         200 "saved" after set("name", x)
 *   GET /flush                200 "flushed" after flush()
 *   GET /write-then-500       500 after set("name", "lost")
 *   GET /write-then-redirect  302 to /read after set("name", "moved")
 *   GET /interrupt            loads, deletes the record behind the session's back, then sets: 400
 *   GET /own-headers          sets its own cookie "theme=dark; Path=/" and "Vary: Accept-Encoding", then set("name", "own")
 */
import { createServer, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createSessions, type ServerBackend, type Sessions } from "tessera";
import { memoryBackend } from "tessera/backends/memory";
import { countingBackend } from "../helpers.js";

/** Every test's clock: 2023-11-14T22:13:20Z, so cookie dates are exact. */
export const NOW = 1_700_000_000_000;
export const EXPIRES = "Tue, 28 Nov 2023 22:13:20 GMT";
export const DELETION = "sessionid=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Lax";
const COOKIE = /^sessionid=([a-z0-9]{32}); Max-Age=1209600; Path=\/; Expires=Tue, 28 Nov 2023 22:13:20 GMT; HttpOnly; Secure; SameSite=Lax$/;

export type CountingBackend = ReturnType<typeof countingBackend>;

/** A fresh store and sessions with the default options and the fixed clock. */
export function testSessions(backend: ServerBackend = memoryBackend()): { store: CountingBackend; sessions: Sessions } {
  const store = countingBackend(backend);
  return { store, sessions: createSessions({ backend: store, clock: () => NOW }) };
}

/** Listens on 127.0.0.1, port 0. */
export async function listen(listener: RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}

/** The session key in a session `Set-Cookie` value, after checking every attribute exactly. */
export function keyFrom(setCookie: string | undefined): string {
  const match = COOKIE.exec(setCookie ?? "");
  expect(match, `not a session cookie: ${setCookie}`).not.toBeNull();
  return (match as RegExpExecArray)[1] as string;
}

/** Registers the shared scenarios against an app built by `start` for the given sessions. */
export function describeWebScenarios(
  name: string,
  start: (sessions: Sessions, store: CountingBackend) => Promise<{ url: string; close: () => Promise<void> }>,
): void {
  describe(`${name}: shared scenarios`, () => {
    let store: CountingBackend;
    let server: { url: string; close: () => Promise<void> };
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
    beforeEach(() => {
      for (const key of Object.keys(store.calls)) delete store.calls[key];
    });

    it("a write on a new visit sets one session cookie with exactly Django's attributes", async () => {
      const res = await get("/write?name=ann");
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("saved");
      const cookies = res.headers.getSetCookie();
      expect(cookies).toHaveLength(1);
      keyFrom(cookies[0]);
      expect(res.headers.get("vary")).toBe("Cookie");
      expect(store.calls).toEqual({ create: 1 });
    });

    it("the next request reads the data back, with Vary and no new cookie", async () => {
      const key = await login();
      const res = await get("/read", key);
      expect(await res.text()).toBe("ann");
      expect(res.headers.getSetCookie()).toEqual([]);
      expect(res.headers.get("vary")).toBe("Cookie");
    });

    it("an untouched request sends no cookie, no Vary and makes no store call", async () => {
      const key = await login();
      for (const key of Object.keys(store.calls)) delete store.calls[key];
      for (const cookie of [undefined, key]) {
        const res = await get("/untouched", cookie);
        expect(await res.text()).toBe("ok");
        expect(res.headers.getSetCookie()).toEqual([]);
        expect(res.headers.get("vary")).toBeNull();
      }
      expect(store.total()).toBe(0);
    });

    it("flush() deletes the record and the cookie", async () => {
      const key = await login();
      const res = await get("/flush", key);
      expect(await res.text()).toBe("flushed");
      expect(res.headers.getSetCookie()).toEqual([DELETION]);
      expect(res.headers.get("vary")).toBe("Cookie");
      expect(await store.exists(key)).toBe(false);
    });

    it("a 5xx response saves nothing and sets no cookie, but still varies", async () => {
      const res = await get("/write-then-500");
      expect(res.status).toBe(500);
      expect(res.headers.getSetCookie()).toEqual([]);
      expect(res.headers.get("vary")).toBe("Cookie");
      expect(store.calls.create ?? 0).toBe(0);
    });

    it("a redirect after a write keeps its Location and carries the cookie", async () => {
      const res = await get("/write-then-redirect");
      expect(res.status).toBe(302);
      expect(res.headers.get("location")).toBe("/read");
      const key = keyFrom(res.headers.getSetCookie()[0]);
      expect(await (await get("/read", key)).text()).toBe("moved");
    });

    it("a session deleted during the request answers 400 and is not resurrected", async () => {
      const key = await login();
      const res = await get("/interrupt", key);
      expect(res.status).toBe(400);
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

    it("a stale cookie on a read is deleted", async () => {
      const res = await get("/read", "0123456789abcdef0123456789abcdef");
      expect(await res.text()).toBe("none");
      expect(res.headers.getSetCookie()).toEqual([DELETION]);
      expect(store.calls.create ?? 0).toBe(0);
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
