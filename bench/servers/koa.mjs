// Koa 3 benchmark server: node servers/koa.mjs <variant> <port>  (routes as in express.mjs)
// Cookies are not `secure` only because wrk speaks plain http.
import Koa from "koa";
import { variant, port, SECRET, REDIS_URL, MAX_AGE_S, countBackend, countOp, nextValue, opsSnapshot, ready, spin } from "./common.mjs";

const app = new Koa();
app.keys = [SECRET];
let close = async () => {};
let routes;
app.use(async (ctx, next) => {
  if (ctx.path === "/__ops") ctx.body = opsSnapshot(ctx.query.reset === "1");
  else await next();
});

const [family, kind] = variant.split(":");
if (family === "baseline" || family === "noop") {
  // noop: the same routes behind one async middleware that only awaits next(), the floor of any session layer.
  if (family === "noop")
    app.use(async (ctx, next) => {
      spin();
      await next();
    });
  routes = { untouched: () => "ok", read: () => "alice", write: () => "ok", login: () => "ok" };
} else if (family === "koa-session") {
  const { default: session } = await import("koa-session");
  const config = {
    key: "koa.sess",
    maxAge: MAX_AGE_S * 1000,
    httpOnly: true,
    signed: true,
    rolling: false,
    renew: false,
    secure: false /* plain-http wrk */,
    sameSite: "lax",
  };
  if (kind === "redis") {
    // koa-session's documented external-store contract (get/set/destroy), over node-redis;
    // JSON in a key with a TTL, as connect-redis stores it.
    const { createClient } = await import("redis");
    const client = createClient({ url: REDIS_URL });
    await client.connect();
    close = async () => client.quit();
    config.store = {
      async get(key) {
        countOp("get");
        const v = await client.get(`koa:sess:${key}`);
        return v === null ? undefined : JSON.parse(v);
      },
      async set(key, sess, maxAge) {
        countOp("set");
        await client.set(`koa:sess:${key}`, JSON.stringify(sess), { PX: typeof maxAge === "number" ? maxAge : MAX_AGE_S * 1000 });
      },
      async destroy(key) {
        countOp("destroy");
        await client.del(`koa:sess:${key}`);
      },
    };
  }
  app.use(session(config, app));
  routes = {
    untouched: () => "ok",
    read: (ctx) => String(ctx.session.user),
    write: (ctx) => {
      ctx.session.n = nextValue();
      return "ok";
    },
    login: async (ctx) => {
      if (kind === "redis") await ctx.session.regenerate?.();
      ctx.session.user = "alice";
      ctx.session.n = 0;
      return "ok";
    },
  };
} else if (family === "tessera") {
  const { createSessions } = await import("tessera-sessions");
  const { sessionMiddleware } = await import("tessera-sessions/koa");
  let backend;
  if (kind === "memory") {
    const { memoryBackend } = await import("tessera-sessions/backends/memory");
    backend = countBackend(memoryBackend());
  } else if (kind === "redis") {
    const { cacheBackend } = await import("tessera-sessions/backends/cache");
    backend = countBackend(cacheBackend({ url: REDIS_URL }));
  } else if (kind === "signed") {
    const { signedCookieBackend } = await import("tessera-sessions/backends/signed-cookies");
    backend = signedCookieBackend();
  }
  const sessions = createSessions({ backend, secret: SECRET, cookie: { secure: false /* plain-http wrk */, maxAge: MAX_AGE_S } });
  close = async () => sessions.close?.();
  app.use(sessionMiddleware(sessions));
  routes = {
    untouched: () => "ok",
    read: async (ctx) => String(await ctx.session.get("user")),
    write: async (ctx) => {
      await ctx.session.set("n", nextValue());
      return "ok";
    },
    login: async (ctx) => {
      await ctx.session.cycleKey();
      await ctx.session.update({ user: "alice", n: 0 });
      return "ok";
    },
  };
} else {
  console.error(`unknown variant ${variant}`);
  process.exit(2);
}

app.use(async (ctx) => {
  const route = routes[ctx.path.slice(1)];
  if (ctx.method !== "GET" || !route) return; // 404
  ctx.body = await route(ctx);
});
const server = app.listen(port, "127.0.0.1", () =>
  ready(async () => {
    server.close();
    await close();
  }),
);
