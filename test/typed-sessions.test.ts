/**
 * Typed sessions without global declaration merging: `sessions.of(req)` is a `Session<Data>` for
 * the app's own `createSessions<Data>()`, on every framework. The `expectTypeOf` and
 * `@ts-expect-error` lines are checked by `npm run typecheck` (the first step of `npm test`);
 * the requests run over real sockets.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import Koa from "koa";
import { afterEach, describe, expect, expectTypeOf, it } from "vitest";
import { ConfigurationError, createSessions, type Session, type Sessions } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { sessionMiddleware as expressSessions } from "tessera-sessions/express";
import { tesseraSessions } from "tessera-sessions/fastify";
import { withSession as fetchSession } from "tessera-sessions/fetch";
import { sessionMiddleware as honoSessions } from "tessera-sessions/hono";
import { sessionMiddleware as koaSessions } from "tessera-sessions/koa";
import { withSession } from "tessera-sessions/node";

/** The app's own shape, declared nowhere globally. */
interface Cart {
  items: string[];
  owner?: string;
}

const servers: Server[] = [];
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) server.close();
  for (const close of closers.splice(0)) await close();
});

async function serve(listener: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(listener).listen(0, "127.0.0.1");
  servers.push(server);
  await new Promise((resolve) => server.once("listening", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Two requests to `/add`: the second sees the first's item, so the session went round trip. */
async function twoAdds(url: string): Promise<[string, string]> {
  const first = await fetch(`${url}/add?item=tea`, { method: "POST" });
  const cookie = (first.headers.getSetCookie()[0] ?? "").split(";")[0] as string;
  const second = await fetch(`${url}/add?item=milk`, { method: "POST", headers: { cookie } });
  return [await first.text(), await second.text()];
}

function shop(): Sessions<Cart> {
  return createSessions<Cart>({ backend: memoryBackend(), cookie: { secure: false } });
}

/** What every framework's route does with `sessions.of(...)`. */
async function addItem(session: Session<Cart>, item: string): Promise<string> {
  const items = [...(await session.get("items", [])), item];
  await session.set("items", items);
  return items.join(",");
}

describe("sessions.of(carrier)", () => {
  it("is typed by createSessions<Data>() alone", async () => {
    const sessions = shop();
    const session = sessions.of({ session: sessions.open() });
    await session.load(); // so the lines below also run (on a throwaway session)
    expectTypeOf(session).toEqualTypeOf<Session<Cart>>();
    expectTypeOf(session.get("items")).toEqualTypeOf<Promise<string[] | undefined>>();
    expectTypeOf(session.get("items", [])).toEqualTypeOf<Promise<string[] | never[]>>();
    expectTypeOf(session.data.owner).toEqualTypeOf<string | undefined>();
    expectTypeOf(session.set<"owner">)
      .parameter(1)
      .toEqualTypeOf<string | undefined>();
    // @ts-expect-error: not a key of Cart
    await session.get("cart");
    // @ts-expect-error: items is a string[], not a number
    await session.set("items", 3);
    // @ts-expect-error: owner is a string
    session.data.owner = 7;
  });

  it("Express and node:http: sessions.of(req)", async () => {
    const sessions = shop();
    const app = express();
    app.use(expressSessions(sessions));
    app.post("/add", async (req, res) => res.send(await addItem(sessions.of(req), String(req.query["item"]))));
    expect(await twoAdds(await serve(app))).toEqual(["tea", "tea,milk"]);

    const plain = shop();
    const url = await serve(
      withSession(plain, async (req, res) => res.end(await addItem(plain.of(req), new URL(req.url ?? "", "http://x").searchParams.get("item") ?? ""))),
    );
    expect(await twoAdds(url)).toEqual(["tea", "tea,milk"]);
  });

  it("Koa: sessions.of(ctx)", async () => {
    const sessions = shop();
    const app = new Koa();
    app.use(koaSessions(sessions));
    app.use(async (ctx) => {
      ctx.body = await addItem(sessions.of(ctx), String(ctx.query["item"]));
    });
    expect(await twoAdds(await serve(app.callback()))).toEqual(["tea", "tea,milk"]);
  });

  it("Hono: sessions.of(c)", async () => {
    const sessions = shop();
    const app = new Hono();
    app.use(honoSessions(sessions));
    app.post("/add", async (c) => c.text(await addItem(sessions.of(c), c.req.query("item") ?? "")));
    expect(await twoAdds(await serve(getRequestListener(app.fetch)))).toEqual(["tea", "tea,milk"]);
  });

  it("Fastify: sessions.of(request)", async () => {
    const sessions = shop();
    const app = Fastify();
    await app.register(tesseraSessions, { sessions });
    app.post("/add", async (request) => addItem(sessions.of(request), (request.query as { item: string }).item));
    const url = await app.listen({ host: "127.0.0.1", port: 0 });
    closers.push(() => app.close());
    expect(await twoAdds(url)).toEqual(["tea", "tea,milk"]);
  });

  it("fetch: the handler's session passes through sessions.of(session)", async () => {
    const sessions = shop();
    const url = await serve(
      getRequestListener((request) =>
        fetchSession(
          sessions,
          request,
          async (session) => new Response(await addItem(sessions.of(session), new URL(request.url).searchParams.get("item") ?? "")),
        ),
      ),
    );
    expect(await twoAdds(url)).toEqual(["tea", "tea,milk"]);
  });

  it("throws a ConfigurationError that says what to register when the adapter did not run, or ran for another object", () => {
    const sessions = shop();
    expect(() => sessions.of({})).toThrow(ConfigurationError);
    expect(() => sessions.of({})).toThrow("[tessera] sessions.of() found no session on this request. Register the adapter first");
    const other = shop();
    expect(() => sessions.of({ session: other.open() })).toThrow(
      "[tessera] sessions.of() was given a request whose session comes from another createSessions() object. Call of() on the object the adapter was given.",
    );
  });
});
