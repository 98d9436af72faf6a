/**
 * Reading without an await per key: `await session.load()` once, then `session.data` reads and
 * writes synchronously (tracked and merged like `set`); plain-JS `req.session.name` works once
 * loaded and otherwise throws saying what to call.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createSessions, InvalidValueError, Session, SessionNotLoadedError } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { signedCookieBackend } from "tessera-sessions/backends/signed-cookies";
import { plainApp } from "./fixtures/plain-js-app.mjs";

const SECRET = "a-test-secret-that-is-at-least-32-bytes-long";
type Shop = { user?: string; cart: string[]; visits?: number };

describe("session.data after one load", () => {
  it("reads synchronously and typed, and its writes are saved like set()", async () => {
    const sessions = createSessions<Shop>({ backend: memoryBackend() });
    const seeded = sessions.open();
    await seeded.update({ user: "ana", cart: ["tea"] });
    await seeded.save();

    const session = sessions.open(seeded.sessionKey);
    expect(session.loaded).toBe(false);
    expect(await session.load()).toEqual({ user: "ana", cart: ["tea"] });
    expect(session.loaded).toBe(true);
    const user: string | undefined = session.data.user;
    expect(user).toBe("ana");
    expect(session.data.cart).toEqual(["tea"]);
    expect(session.modified).toBe(false);

    session.data.cart = [...(session.data.cart ?? []), "milk"];
    delete session.data.user;
    expect(session.modified).toBe(true);
    expect("user" in session.data).toBe(false);
    expect(Object.keys(session.data)).toEqual(["cart"]);
    expect(JSON.stringify(session.data)).toBe('{"cart":["tea","milk"]}');
    expect(await session.get("cart")).toEqual(["tea", "milk"]);
    await session.save();
    expect(await sessions.open(seeded.sessionKey).load()).toEqual({ cart: ["tea", "milk"] });
  });

  it("throws SessionNotLoadedError before the load, saying to call load()", () => {
    const session = createSessions<Shop>({ backend: memoryBackend() }).open();
    expect(() => session.data.user).toThrow(SessionNotLoadedError);
    expect(() => session.data).toThrow(
      '[tessera] session.data was used before the session was loaded. Call "await session.load()" once in the request first, or use the async methods (await session.get(key)).',
    );
    expect(session.accessed).toBe(false);
  });

  it("is usable after any data method loaded the session, and follows clear() and flush()", async () => {
    const session = createSessions<Shop>({ backend: memoryBackend() }).open();
    await session.set("visits", 1);
    expect(session.data.visits).toBe(1);
    await session.clear();
    expect(session.data.visits).toBeUndefined();
    session.data.visits = 2;
    await session.flush();
    expect(Object.keys(session.data)).toEqual([]);
  });

  it("refuses what JSON cannot store, as set() does", async () => {
    const session = createSessions<Record<string, unknown>>({ backend: memoryBackend() }).open();
    await session.load();
    expect(() => (session.data["when"] = new Date(0))).toThrow(InvalidValueError);
    expect(() => (session.data["n"] = Number.NaN)).toThrow("[tessera] n is NaN, which JSON cannot store. Store a finite number or null.");
    expect(session.modified).toBe(false);
  });

  it("merges its writes key by key with a concurrent request's (another process)", async () => {
    const store = memoryBackend();
    const one = createSessions<Shop>({ backend: store });
    const other = createSessions<Shop>({ backend: store });
    const seeded = one.open();
    await seeded.set("cart", []);
    await seeded.save();
    const key = seeded.sessionKey;

    const a = one.open(key);
    const b = other.open(key);
    await Promise.all([a.load(), b.load()]);
    a.data.user = "ana";
    b.data.visits = 7;
    await a.save();
    await b.save();
    expect(await one.open(key).load()).toEqual({ cart: [], user: "ana", visits: 7 });
  });

  it("works the same on signed cookies", async () => {
    const sessions = createSessions<Shop>({ backend: signedCookieBackend(), secret: SECRET });
    const first = sessions.open();
    await first.load();
    first.data.user = "bo";
    await first.save();
    const again = sessions.open(first.sessionKey);
    await again.load();
    expect(again.data.user).toBe("bo");
  });
});

describe("plain properties on the Session (express-session habits, plain JavaScript)", () => {
  const servers: { close(): void }[] = [];
  afterEach(() => servers.splice(0).forEach((server) => server.close()));

  async function start() {
    const sessions = createSessions({ backend: memoryBackend(), cookie: { secure: false } });
    const server = createServer(plainApp(sessions)).listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    servers.push(server);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it("a read or write before load() throws, naming what to call instead", async () => {
    const url = await start();
    expect(await (await fetch(`${url}/habit`)).text()).toBe(
      'SessionNotLoadedError: [tessera] req.session.name was read before the session was loaded, so it would be undefined. Call "await req.session.load()" once in the request first (then req.session.data.name works too), or use await req.session.get("name").',
    );
    const write = await fetch(`${url}/habit?name=ana`, { method: "POST" });
    expect(write.status).toBe(500);
    expect(await write.text()).toBe(
      'SessionNotLoadedError: [tessera] req.session.name was set before the session was loaded, so it would be lost. Call "await req.session.load()" once in the request first (then req.session.data.name works too), or use await req.session.set("name", value).',
    );
    expect(write.headers.getSetCookie()).toEqual([]);
  });

  it("express-session's own methods say what Tessera calls them", async () => {
    const url = await start();
    expect(await (await fetch(`${url}/regenerate`, { method: "POST" })).text()).toBe(
      "SessionNotLoadedError: [tessera] req.session.regenerate is express-session's API, not Tessera's. Use await req.session.cycleKey() (it keeps the data under a new key; call it on login).",
    );
  });

  it("after load(), reads and writes work and are saved", async () => {
    const url = await start();
    const first = await fetch(`${url}/loaded?name=ana`, { method: "POST" });
    expect(await first.text()).toBe("visits 1");
    const cookie = (first.headers.getSetCookie()[0] ?? "").split(";")[0] as string;
    expect(cookie).toMatch(/^sessionid=[a-z0-9]{32}$/);
    expect(await (await fetch(`${url}/loaded?name=ana`, { method: "POST", headers: { cookie } })).text()).toBe("visits 2");
    expect(await (await fetch(`${url}/loaded`, { headers: { cookie } })).text()).toBe("hello ana");
    expect(await (await fetch(`${url}/loaded`)).text()).toBe("hello stranger");
  });

  it("leaves the names the platform probes alone: await, JSON, instanceof, String()", async () => {
    const session = createSessions({ backend: memoryBackend() }).open();
    expect(await Promise.resolve(session)).toBe(session); // `then` is not data
    expect(JSON.stringify(session)).toBe('{"accessed":false,"modified":false,"hadCookie":false}');
    expect(session).toBeInstanceOf(Session);
    expect(String(session)).toBe("[object Object]");
    expect(session.accessed).toBe(false); // none of it touched the data
  });
});
