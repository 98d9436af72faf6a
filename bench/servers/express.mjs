// Express 5 benchmark server: node servers/express.mjs <variant> <port>
// Routes: /untouched (session middleware on, handler ignores the session), /read (one value),
// /write (changes one value), /login (creates a session), /__ops (store operation counts).
// Cookies are not `secure` only because wrk speaks plain http; everything else follows each
// library's production advice (resave: false, saveUninitialized: false, httpOnly, sameSite).
import express from "express";
import { variant, port, SECRET, REDIS_URL, PG_URL, MAX_AGE_S, dataDir, countStore, countBackend, nextValue, opsSnapshot, ready, spin } from "./common.mjs";

const app = express();
app.disable("x-powered-by");
app.disable("etag");
app.get("/__ops", (req, res) => res.json(opsSnapshot(req.query.reset === "1")));

let close = async () => {};
let routes; // { untouched, read, write, login } handlers

const cookieOpts = { secure: false /* plain-http wrk */, httpOnly: true, sameSite: "lax", maxAge: MAX_AGE_S * 1000 };

async function expressSession(storeKind) {
  const { default: session } = await import("express-session");
  let store;
  if (storeKind === "memory") {
    store = new session.MemoryStore();
  } else if (storeKind === "sqlite") {
    const { default: Database } = await import("better-sqlite3");
    const { default: makeStore } = await import("better-sqlite3-session-store");
    const SqliteStore = makeStore(session);
    const db = new Database(`${dataDir}/express-session.sqlite3`);
    db.pragma("journal_mode = WAL"); // the same journal mode Tessera uses; not in the store's README
    store = new SqliteStore({ client: db, expired: { clear: true, intervalMs: 900000 } });
    close = async () => db.close();
  } else if (storeKind === "redis") {
    const { createClient } = await import("redis");
    const { RedisStore } = await import("connect-redis");
    const client = createClient({ url: REDIS_URL });
    await client.connect();
    store = new RedisStore({ client, prefix: "sess:" });
    close = async () => client.quit();
  } else if (storeKind === "pg") {
    const { default: pg } = await import("pg");
    const { default: pgSession } = await import("connect-pg-simple");
    const PgStore = pgSession(session);
    const pool = new pg.Pool({ connectionString: PG_URL, max: 10 });
    store = new PgStore({ pool, createTableIfMissing: true });
    close = async () => {
      store.close();
      await pool.end();
    };
  }
  countStore(store);
  app.use(session({ store, secret: SECRET, resave: false, saveUninitialized: false, name: "sid", cookie: cookieOpts }));
  routes = {
    untouched: (req, res) => res.send("ok"),
    read: (req, res) => res.send(String(req.session.user)),
    write: (req, res) => {
      req.session.n = nextValue();
      res.send("ok");
    },
    login: (req, res, next) =>
      req.session.regenerate((err) => {
        if (err) return next(err);
        req.session.user = "alice";
        req.session.n = 0;
        res.send("ok");
      }),
  };
}

async function tessera(kind) {
  const { createSessions } = await import("tessera-sessions");
  const { sessionMiddleware } = await import("tessera-sessions/express");
  let backend;
  if (kind === "memory") {
    const { memoryBackend } = await import("tessera-sessions/backends/memory");
    backend = memoryBackend();
  } else if (kind === "sqlite") {
    const { databaseBackend } = await import("tessera-sessions/backends/db");
    backend = databaseBackend({ url: `sqlite:${dataDir}/tessera.sqlite3` });
  } else if (kind === "pg") {
    const { databaseBackend } = await import("tessera-sessions/backends/db");
    backend = databaseBackend({ url: PG_URL });
  } else if (kind === "redis") {
    const { cacheBackend } = await import("tessera-sessions/backends/cache");
    backend = cacheBackend({ url: REDIS_URL });
  } else if (kind === "signed" || kind === "encrypted") {
    const { signedCookieBackend } = await import("tessera-sessions/backends/signed-cookies");
    backend = signedCookieBackend({ encrypt: kind === "encrypted" });
  }
  if (backend.kind === "server") backend = countBackend(backend);
  const sessions = createSessions({ backend, secret: SECRET, cookie: { secure: false /* plain-http wrk */, maxAge: MAX_AGE_S } });
  if (kind === "pg" || kind === "sqlite") await sessions.migrate();
  close = async () => sessions.close?.();
  app.use(sessionMiddleware(sessions));
  routes = {
    untouched: (req, res) => res.send("ok"),
    read: async (req, res) => res.send(String(await req.session.get("user"))),
    write: async (req, res) => {
      await req.session.set("n", nextValue());
      res.send("ok");
    },
    login: async (req, res) => {
      await req.session.cycleKey();
      await req.session.update({ user: "alice", n: 0 });
      res.send("ok");
    },
  };
}

const [family, kind] = variant.split(":");
if (family === "baseline" || family === "noop") {
  // noop: the same routes behind one middleware that does nothing, the floor of any session layer.
  if (family === "noop")
    app.use((req, res, next) => {
      spin();
      next();
    });
  routes = {
    untouched: (req, res) => res.send("ok"),
    read: (req, res) => res.send("alice"),
    write: (req, res) => res.send("ok"),
    login: (req, res) => res.send("ok"),
  };
} else if (family === "express-session") {
  await expressSession(kind);
} else if (family === "cookie-session") {
  const { default: cookieSession } = await import("cookie-session");
  app.use(cookieSession({ name: "session", keys: [SECRET], maxAge: MAX_AGE_S * 1000, secure: false /* plain-http wrk */, httpOnly: true, sameSite: "lax" }));
  routes = {
    untouched: (req, res) => res.send("ok"),
    read: (req, res) => res.send(String(req.session.user)),
    write: (req, res) => {
      req.session.n = nextValue();
      res.send("ok");
    },
    login: (req, res) => {
      req.session = { user: "alice", n: 0 };
      res.send("ok");
    },
  };
} else if (family === "iron-session") {
  const { getIronSession } = await import("iron-session");
  const opts = { password: SECRET, cookieName: "iron", ttl: MAX_AGE_S, cookieOptions: { secure: false /* plain-http wrk */, httpOnly: true, sameSite: "lax" } };
  // iron-session has no middleware; the usual Express wiring opens the session for every request.
  app.use(async (req, res, next) => {
    req.session = await getIronSession(req, res, opts);
    next();
  });
  routes = {
    untouched: (req, res) => res.send("ok"),
    read: (req, res) => res.send(String(req.session.user)),
    write: async (req, res) => {
      req.session.n = nextValue();
      await req.session.save();
      res.send("ok");
    },
    login: async (req, res) => {
      req.session.user = "alice";
      req.session.n = 0;
      await req.session.save();
      res.send("ok");
    },
  };
} else if (family === "tessera") {
  await tessera(kind);
} else {
  console.error(`unknown variant ${variant}`);
  process.exit(2);
}

app.get("/untouched", routes.untouched);
app.get("/read", routes.read);
app.get("/write", routes.write);
app.get("/login", routes.login);

const server = app.listen(port, "127.0.0.1", () =>
  ready(async () => {
    server.close();
    await close();
  }),
);
