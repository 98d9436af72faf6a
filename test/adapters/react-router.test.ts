/**
 * React Router's storage through React Router itself: `createRequestHandler` serving a small
 * server build of resource routes (loaders and actions), bridged to a real node:http socket.
 * The conformance suite does not apply: React Router apps load and commit sessions explicitly
 * (`getSession` / `commitSession`), so the scenarios are the ones an app lives by: login with a
 * flash and cycleKey, read, write, logout, the store down, a tampered cookie.
 */
import { createServer } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { createRequestHandler, createSession, isSession, redirect, type ServerBuild } from "react-router";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BackendError, createSessions, type Sessions } from "tessera-sessions";
import { signedCookieBackend } from "tessera-sessions/backends/signed-cookies";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { tesseraSessionStorage, type TesseraSessionStorage } from "tessera-sessions/react-router";
import { hashKey } from "../../src/keys.js";
import { countingBackend, recordingLogger } from "../helpers.js";
import { type CountingBackend, DELETION, keyFrom, listen, NOW, testSessions } from "./adapter.suite.js";

type Data = { user?: string; cart?: number[]; theme?: string };
type Flash = { notice: string };

/** A server build of resource routes, the shape `react-router build` emits, written by hand. */
function serverBuild(storage: TesseraSessionStorage<Data, Flash>): ServerBuild {
  const { getSession, commitSession, destroySession } = storage;
  const cookieOf = (request: Request) => request.headers.get("Cookie");
  const modules: Record<string, Record<string, unknown>> = {
    // Login: a new key for the signed-in visitor (keeping the anonymous cart), and a flash.
    login: {
      action: async ({ request }: { request: Request }) => {
        const session = await getSession(cookieOf(request));
        const form = await request.formData();
        await storage.tesseraSession(session).cycleKey();
        session.set("user", String(form.get("user")));
        session.flash("notice", "Signed in");
        const remember = form.get("remember") === "yes";
        return redirect("/me", { headers: { "Set-Cookie": await commitSession(session, remember ? { maxAge: 300 } : undefined) } });
      },
    },
    // Read: the user and the flash, which a read consumes, so the loader commits.
    me: {
      loader: async ({ request }: { request: Request }) => {
        const session = await getSession(cookieOf(request));
        const body = JSON.stringify({ id: session.id, user: session.get("user") ?? null, notice: session.get("notice") ?? null });
        return new Response(body, { headers: { "Content-Type": "application/json", "Set-Cookie": await commitSession(session) } });
      },
    },
    // Write: one more item in the cart.
    cart: {
      action: async ({ request }: { request: Request }) => {
        const session = await getSession(cookieOf(request));
        const cart = [...(session.get("cart") ?? []), Number((await request.formData()).get("item"))];
        session.set("cart", cart);
        return Response.json({ cart }, { headers: { "Set-Cookie": await commitSession(session) } });
      },
    },
    logout: {
      action: async ({ request }: { request: Request }) => {
        const session = await getSession(cookieOf(request));
        return redirect("/", { headers: { "Set-Cookie": await destroySession(session) } });
      },
    },
  };
  const routes: Record<string, object> = { root: { id: "root", path: "", module: {} } };
  for (const [id, module] of Object.entries(modules)) routes[id] = { id, parentId: "root", path: id, module };
  return {
    entry: { module: { default: () => new Response("this app has no documents", { status: 404 }) } },
    routes,
    assets: { entry: { module: "", imports: [] }, routes: {}, url: "", version: "1" },
    publicPath: "/",
    assetsBuildDirectory: "",
    future: {},
    ssr: true,
    isSpaMode: false,
    prerender: [],
    routeDiscovery: { mode: "lazy", manifestPath: "/__manifest" },
  } as unknown as ServerBuild;
}

async function serve(sessions: Sessions) {
  const storage = tesseraSessionStorage<Data, Flash>(sessions);
  const handler = createRequestHandler(serverBuild(storage), "production");
  return { storage, server: await listen(getRequestListener((request) => handler(request))) };
}

describe("react-router: tesseraSessionStorage under createRequestHandler, over HTTP", () => {
  let store: CountingBackend;
  let sessions: Sessions;
  let server: Awaited<ReturnType<typeof listen>>;
  const send = (path: string, cookie: string | undefined, form?: Record<string, string>) =>
    fetch(server.url + path, {
      redirect: "manual",
      ...(form ? { method: "POST", body: new URLSearchParams(form) } : {}),
      headers: { Origin: server.url, ...(cookie === undefined ? {} : { Cookie: cookie }) },
    });
  const stored = async (key: string) => JSON.parse((await store.inner.load(key, NOW))?.data ?? "null") as Record<string, unknown> | null;

  beforeAll(async () => {
    ({ store, sessions } = testSessions());
    ({ server } = await serve(sessions));
  });
  afterAll(() => server.close());

  it("login: a new key (cycleKey) keeps the anonymous cart, stores the user and the flash, 302 with Tessera's cookie", async () => {
    const anonymous = keyFrom((await send("/cart", undefined, { item: "7" })).headers.get("set-cookie") ?? undefined);
    const res = await send("/login", `sessionid=${anonymous}`, { user: "ann" });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/me");
    const key = keyFrom(res.headers.get("set-cookie") ?? undefined);
    expect(key).not.toBe(anonymous);
    expect(await stored(anonymous)).toBeNull();
    expect(await stored(key)).toEqual({ cart: [7], user: "ann", __flash_notice__: "Signed in" });
  });

  it("read: the flash is given once and removed by the commit; the id is the admin's id (the key's hash)", async () => {
    const key = keyFrom((await send("/login", undefined, { user: "bob" })).headers.get("set-cookie") ?? undefined);
    const first = await send("/me", `sessionid=${key}`);
    expect(await first.json()).toEqual({ id: hashKey(key), user: "bob", notice: "Signed in" });
    expect(first.headers.get("set-cookie")).toBe(
      `sessionid=${key}; Max-Age=1209600; Path=/; Expires=Tue, 28 Nov 2023 22:13:20 GMT; HttpOnly; Secure; SameSite=Lax`,
    );
    expect(await stored(key)).toEqual({ user: "bob" });
    const second = await send("/me", `sessionid=${key}`);
    expect(await second.json()).toEqual({ id: hashKey(key), user: "bob", notice: null });
  });

  it("write: the action's change is stored under the same key", async () => {
    const key = keyFrom((await send("/cart", undefined, { item: "1" })).headers.get("set-cookie") ?? undefined);
    const res = await send("/cart", `sessionid=${key}`, { item: "2" });
    expect(await res.json()).toEqual({ cart: [1, 2] });
    expect(keyFrom(res.headers.get("set-cookie") ?? undefined)).toBe(key);
    expect(await stored(key)).toEqual({ cart: [1, 2] });
  });

  it("commitSession's maxAge becomes the session's expiry (a 'remember me' login)", async () => {
    const res = await send("/login", undefined, { user: "cy", remember: "yes" });
    const cookie = res.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/^sessionid=[a-z0-9]{32}; Max-Age=300; Path=\/; Expires=Tue, 14 Nov 2023 22:18:20 GMT; HttpOnly; Secure; SameSite=Lax$/);
  });

  it("logout: destroySession deletes the record and sends Django's deletion cookie", async () => {
    const key = keyFrom((await send("/login", undefined, { user: "dee" })).headers.get("set-cookie") ?? undefined);
    const res = await send("/logout", `sessionid=${key}`, {});
    expect(res.status).toBe(302);
    expect(res.headers.get("set-cookie")).toBe(DELETION);
    expect(await stored(key)).toBeNull();
  });

  it("a malformed cookie is an empty session and a warning, never a 500", async () => {
    const logger = recordingLogger();
    const own = createSessions({ backend: memoryBackend(), clock: () => NOW, logger });
    const { server: other } = await serve(own);
    try {
      const res = await fetch(`${other.url}/me`, { headers: { Cookie: "sessionid=../../etc/passwd%00" } });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ id: "", user: null, notice: null });
      // Nothing to keep: the cookie that came in is deleted.
      expect(res.headers.get("set-cookie")).toBe(DELETION);
      expect(logger.warnings).toEqual(["[tessera] Ignored a malformed session cookie; the request gets an empty session."]);
    } finally {
      await other.close();
    }
  });

  it("the store down: the loader answers 503 (a thrown Response), and the cause is logged", async () => {
    const down = memoryBackend();
    down.load = async () => {
      throw new BackendError("memory", "connection refused");
    };
    const logger = recordingLogger();
    const { server: other } = await serve(createSessions({ backend: countingBackend(down), clock: () => NOW, logger }));
    try {
      const res = await fetch(`${other.url}/me`, { headers: { Cookie: "sessionid=abcdefghijklmnopqrstuvwxyz012345" } });
      expect(res.status).toBe(503);
      expect(await res.text()).toBe("Service Unavailable");
      expect(res.headers.get("set-cookie")).toBeNull();
      expect(logger.errors).toEqual(["[tessera] The session failed; answering 503."]);
    } finally {
      await other.close();
    }
  });
});

describe("react-router: the storage's own rules", () => {
  it("writes only what the request changed, so a concurrent request's write to another key survives", async () => {
    const { sessions } = testSessions();
    const storage = tesseraSessionStorage<Data, Flash>(sessions);
    const first = await storage.getSession();
    first.set("user", "eve");
    const key = keyFrom(await storage.commitSession(first));
    const cookie = `sessionid=${key}`;
    const [a, b] = [await storage.getSession(cookie), await storage.getSession(cookie)];
    a.set("cart", [1]);
    b.set("theme", "dark");
    await storage.commitSession(a);
    await storage.commitSession(b);
    const after = await storage.getSession(cookie);
    expect(after.data).toEqual({ user: "eve", cart: [1], theme: "dark" });
  });

  it("an unset name is deleted from the store; an empty new session is not kept", async () => {
    const { store, sessions } = testSessions();
    const storage = tesseraSessionStorage<Data, Flash>(sessions);
    const session = await storage.getSession(null);
    expect(isSession(session)).toBe(true);
    expect(session.id).toBe("");
    expect(await storage.commitSession(session)).toBe(DELETION);
    expect(store.calls.create ?? 0).toBe(0);
    session.set("theme", "dark");
    session.set("user", "fay");
    const key = keyFrom(await storage.commitSession(session));
    const again = await storage.getSession(`sessionid=${key}`);
    again.unset("theme");
    await storage.commitSession(again);
    expect((await storage.getSession(`sessionid=${key}`)).data).toEqual({ user: "fay" });
  });

  it("a session React Router's createSession made elsewhere is committed as a new one", async () => {
    const { sessions } = testSessions();
    const storage = tesseraSessionStorage<Data, Flash>(sessions);
    const key = keyFrom(await storage.commitSession(createSession<Data, Flash>({ user: "gil" })));
    expect((await storage.getSession(`sessionid=${key}`)).get("user")).toBe("gil");
  });

  it("works on a cookie backend too: the data rides in the signed cookie, and a tampered one is an empty session", async () => {
    const logger = recordingLogger();
    const sessions = createSessions<Data>({ backend: signedCookieBackend(), secret: "react-router-test-secret-0123456789abcdef", clock: () => NOW, logger });
    const storage = tesseraSessionStorage<Data, Flash>(sessions);
    const session = await storage.getSession();
    session.set("user", "hal");
    const setCookie = await storage.commitSession(session);
    const value = /^sessionid=([^;]+);/.exec(setCookie)?.[1] ?? "";
    expect((await storage.getSession(`sessionid=${value}`)).get("user")).toBe("hal");
    const tampered = value.slice(0, -2) + (value.endsWith("a") ? "bb" : "aa");
    expect((await storage.getSession(`sessionid=${tampered}`)).data).toEqual({});
    expect(logger.warnings).toEqual(["[tessera] Session data corrupted: a session cookie failed verification; the request gets an empty session."]);
  });
});
