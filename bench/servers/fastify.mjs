// Fastify 5 benchmark server: node servers/fastify.mjs <variant> <port>  (routes as in express.mjs)
// Cookies are not `secure` only because wrk speaks plain http.
import Fastify from "fastify";
import { variant, port, SECRET, REDIS_URL, MAX_AGE_S, countStore, countBackend, nextValue, opsSnapshot, ready, spin } from "./common.mjs";

const app = Fastify({ logger: false });
let close = async () => {};
let routes;
app.get("/__ops", async (request) => opsSnapshot(request.query.reset === "1"));

const [family, kind] = variant.split(":");
if (family === "baseline" || family === "noop") {
  // noop: the same routes with an onRequest and an onSend hook that do nothing (what a session plugin needs at least).
  if (family === "noop") {
    app.addHook("onRequest", (request, reply, done) => {
      spin();
      done();
    });
    app.addHook("onSend", (request, reply, payload, done) => done(null, payload));
  }
  routes = { untouched: async () => "ok", read: async () => "alice", write: async () => "ok", login: async () => "ok" };
} else if (family === "fastify-session") {
  const { default: fastifyCookie } = await import("@fastify/cookie");
  const { default: fastifySession } = await import("@fastify/session");
  let store;
  if (kind === "redis") {
    const { createClient } = await import("redis");
    const { RedisStore } = await import("connect-redis");
    const client = createClient({ url: REDIS_URL });
    await client.connect();
    store = new RedisStore({ client, prefix: "sess:" });
    close = async () => client.quit();
  } else {
    store = new fastifySession.MemoryStore();
  }
  countStore(store);
  await app.register(fastifyCookie);
  // saveUninitialized false as for express-session; rolling false turns on save-if-modified
  // (the default rolling: true re-saves every session on every response).
  await app.register(fastifySession, {
    secret: SECRET,
    cookieName: "sid",
    store,
    saveUninitialized: false,
    rolling: false,
    cookie: { secure: false /* plain-http wrk */, httpOnly: true, sameSite: "lax", maxAge: MAX_AGE_S * 1000 },
  });
  routes = {
    untouched: async () => "ok",
    read: async (request) => String(request.session.get("user")),
    write: async (request) => {
      request.session.set("n", nextValue());
      return "ok";
    },
    login: async (request) => {
      await request.session.regenerate();
      request.session.set("user", "alice");
      request.session.set("n", 0);
      return "ok";
    },
  };
} else if (family === "tessera") {
  const { createSessions } = await import("tessera-sessions");
  const { tesseraSessions } = await import("tessera-sessions/fastify");
  let backend;
  if (kind === "memory") {
    const { memoryBackend } = await import("tessera-sessions/backends/memory");
    backend = memoryBackend();
  } else if (kind === "redis") {
    const { cacheBackend } = await import("tessera-sessions/backends/cache");
    backend = cacheBackend({ url: REDIS_URL });
  }
  backend = countBackend(backend);
  const sessions = createSessions({ backend, secret: SECRET, cookie: { secure: false /* plain-http wrk */, maxAge: MAX_AGE_S } });
  close = async () => sessions.close?.();
  await app.register(tesseraSessions, { sessions });
  routes = {
    untouched: async () => "ok",
    read: async (request) => String(await request.session.get("user")),
    write: async (request) => {
      await request.session.set("n", nextValue());
      return "ok";
    },
    login: async (request) => {
      await request.session.cycleKey();
      await request.session.update({ user: "alice", n: 0 });
      return "ok";
    },
  };
} else {
  console.error(`unknown variant ${variant}`);
  process.exit(2);
}

for (const r of ["untouched", "read", "write", "login"]) app.get(`/${r}`, routes[r]);
await app.listen({ port, host: "127.0.0.1" });
ready(async () => {
  await app.close();
  await close();
});
