/**
 * What the Koa, Hono and Fetch adapter tests share beside the conformance suite
 * (adapter.suite.ts): each test file builds a small app serving the routes below with its
 * framework; `describeWebScenarios` checks over a real socket what the suite does not (the
 * handler's own headers kept, a redirect's headers not leaking into the 400); the framework
 * specifics in each file use the same routes.
 *
 * Routes every app serves, using `ctx.session` / `c.var.session` / the fetch session:
 *   GET /read                 200, body = session "name" or "none"
 *   GET /write?name=x         200 "saved" after set("name", x)
 *   GET /flush                200 "flushed" after flush()
 *   GET /interrupt            loads, deletes the record behind the session's back, sets, redirects: 400
 *   GET /own-headers          sets its own cookie "theme=dark; Path=/" and "Vary: Accept-Encoding", then set("name", "own")
 */
import { createServer, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSessions, type ServerBackend, type Sessions } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { countingBackend } from "../helpers.js";

/** Every test's clock: 2023-11-14T22:13:20Z, so cookie dates are exact. */
export const NOW = 1_700_000_000_000;
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
  describe(`${name}: beyond the conformance suite`, () => {
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
