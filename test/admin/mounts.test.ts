/**
 * The admin mounted as docs/admin.md says, in Koa, Fastify and Hono, over real sockets: the list
 * renders for an authorized visitor, a stranger gets the host app's own 404 page (exactly what an
 * unknown path gets), and a CSRF-protected POST goes through.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import Fastify from "fastify";
import { Hono } from "hono";
import Koa from "koa";
import { afterEach, describe, expect, it } from "vitest";
import { createSessions, hashKey } from "tessera-sessions";
import { createAdmin, isRefusal, toNodeHandler } from "tessera-sessions/admin";
import { memoryBackend } from "tessera-sessions/backends/memory";

const BASE = "/admin/sessions";
const STAFF = "Bearer staff-token";
/** Each host app's own 404 page. */
const HOST_404 = "<h1>Shop: no such page</h1>";

/** Sessions with three saved sessions, and an admin that lets in requests carrying STAFF. */
async function setup() {
  const sessions = createSessions({ backend: memoryBackend(), logger: { warn() {}, error() {} } });
  const keys: string[] = [];
  for (let i = 0; i < 3; i++) {
    const session = sessions.open();
    await session.set("n", i);
    await session.save();
    keys.push(session.sessionKey as string);
  }
  const admin = createAdmin({ sessions, authorize: (request) => request.headers.get("authorization") === STAFF });
  return { sessions, keys, admin };
}

/** GETs the list as staff, then deletes the first session through a confirmed, CSRF-checked POST. */
async function exercise(url: string, keys: string[], sessions: Awaited<ReturnType<typeof setup>>["sessions"]) {
  const unknown = await fetch(`${url}/no-such-page`);
  const hostAnswer = [unknown.status, unknown.headers.get("content-type")?.toLowerCase(), await unknown.text()];
  expect(hostAnswer).toEqual([404, "text/html; charset=utf-8", HOST_404]);
  for (const [path, init] of [
    [`${BASE}/`, {}],
    [`${BASE}/session/${hashKey(keys[0] as string)}`, {}],
    [`${BASE}/clear-expired`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "confirmed=1" }],
  ] as const) {
    const refused = await fetch(`${url}${path}`, init);
    expect([refused.status, refused.headers.get("content-type")?.toLowerCase(), await refused.text()], path).toEqual(hostAnswer);
  }
  const list = await fetch(`${url}${BASE}/`, { headers: { authorization: STAFF } });
  expect([list.status, list.headers.get("cache-control")]).toEqual([200, "no-store"]);
  const html = await list.text();
  for (const key of keys) expect(html).toContain(`value="${hashKey(key)}"`);
  const cookie = (list.headers.get("set-cookie") ?? "").split(";")[0] as string;
  const token = /name="csrf" value="([^"]+)"/.exec(html)?.[1] as string;
  const body = new URLSearchParams({ csrf: token, confirmed: "1", id: hashKey(keys[0] as string) }).toString();
  const deleted = await fetch(`${url}${BASE}/delete`, {
    method: "POST",
    redirect: "manual",
    headers: { authorization: STAFF, cookie, "content-type": "application/x-www-form-urlencoded" },
    body,
  });
  expect([deleted.status, deleted.headers.get("location")]).toEqual([
    303,
    expect.stringMatching(new RegExp(`^${BASE}/\\?notice=deleted&count=1&sig=[A-Za-z0-9_-]{43}$`)),
  ]);
  expect(await sessions.open(keys[0]).get("n")).toBeUndefined();
  expect(await sessions.open(keys[1]).get("n")).toBe(1);
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

describe("mounting the admin", () => {
  it("Koa: ctx.respond = false and the raw req/res", async () => {
    const { sessions, keys, admin } = await setup();
    const app = new Koa();
    const handler = toNodeHandler(admin);
    app.use(async (ctx, next) => {
      if (ctx.path !== BASE && !ctx.path.startsWith(`${BASE}/`)) return next();
      let declined = false;
      await handler(ctx.req, ctx.res, (error) => {
        if (error !== undefined) throw error;
        declined = true; // a refused visitor: Koa's own 404 answers
      });
      if (declined) return next();
      ctx.respond = false;
    });
    app.use((ctx) => {
      ctx.status = 404;
      ctx.type = "text/html; charset=utf-8";
      ctx.body = HOST_404;
    });
    await exercise(await listen(createServer(app.callback())), keys, sessions);
  });

  it("Fastify: reply.hijack() and the raw req/res, with form bodies left unparsed", async () => {
    const { sessions, keys, admin } = await setup();
    const app = Fastify();
    const handler = toNodeHandler(admin);
    // Fastify refuses form posts it has no parser for; this one leaves the body to the admin.
    app.addContentTypeParser("application/x-www-form-urlencoded", (_request, _payload, done) => done(null, undefined));
    app.setNotFoundHandler((_request, reply) => reply.code(404).type("text/html; charset=utf-8").send(HOST_404));
    app.all(`${BASE}/*`, async (request, reply) => {
      let declined = false;
      await handler(request.raw, reply.raw, (error) => {
        if (error !== undefined) throw error;
        declined = true;
      });
      if (declined) return reply.callNotFound();
      reply.hijack();
    });
    const url = await app.listen({ host: "127.0.0.1", port: 0 });
    closers.push(() => app.close());
    await exercise(url, keys, sessions);
  });

  it("Hono: the admin is already a Fetch handler", async () => {
    const { sessions, keys, admin } = await setup();
    const app = new Hono();
    app.notFound((c) => c.html(HOST_404, 404));
    app.all(`${BASE}/*`, async (c, next) => {
      const response = await admin(c.req.raw);
      if (isRefusal(response)) return next(); // Hono's notFound answers
      return response;
    });
    const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }) as Server;
    await new Promise<void>((resolve) => (server.listening ? resolve() : server.once("listening", () => resolve())));
    closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    await exercise(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, keys, sessions);
  });
});
