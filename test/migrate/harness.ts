/**
 * The two sides of a switch from express-session (or @fastify/session) to Tessera, over real
 * HTTP: the old app that writes sessions, the Tessera app that moves them in, and a browser-like
 * cookie jar between them.
 */
import { createServer } from "node:http";
import express from "express";
import session, { type Store } from "express-session";
import { createClient } from "redis";
import { afterAll, beforeAll } from "vitest";
import type { Sessions } from "tessera-sessions";
import { sessionMiddleware } from "tessera-sessions/express";
import { listenOn, type RunningServer } from "../adapters/adapter.suite.js";
import { startRedis, type RedisServer } from "../servers/redis.js";

/** Servers started by a test file, stopped in its afterAll/afterEach. */
export const running: RunningServer[] = [];

export async function stopAll(): Promise<void> {
  for (const server of running.splice(0)) await server.close();
}

export async function serve(app: express.Express): Promise<string> {
  const server = await listenOn(createServer(app));
  running.push(server);
  return server.url;
}

/** A Redis server and a connected client for the calling test file (beforeAll to afterAll). */
export function useRedis(): { readonly client: ReturnType<typeof createClient>; readonly server: RedisServer } {
  let server: RedisServer | undefined;
  let client: ReturnType<typeof createClient> | undefined;
  beforeAll(async () => {
    server = await startRedis();
    client = createClient({ url: server.url });
    await client.connect();
  });
  afterAll(async () => {
    await client?.close();
    await server?.stop();
  });
  const outside = () => new Error("useRedis() gives its server and client inside the tests only");
  return {
    get client() {
      if (client === undefined) throw outside();
      return client;
    },
    get server() {
      if (server === undefined) throw outside();
      return server;
    },
  };
}

/** express-session's data as this old app writes it (with Tessera's types loaded, `req.session` is Tessera's). */
type OldSession = Record<string, unknown> & { id: string; destroy(callback: (error?: unknown) => void): void };

/**
 * An express-session app as apps write them: POST /login stores a user and a cart, GET /whoami
 * reads the user back, and GET /sid tells the session id (for the tests' own look-ups).
 */
export function expressSessionApp(store: Store, options: { secret: string | string[]; name?: string }): express.Express {
  const app = express();
  app.use(
    session({
      store,
      secret: options.secret,
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 3_600_000 },
      ...(options.name === undefined ? {} : { name: options.name }),
    }),
  );
  app.post("/login", (req, res) => {
    const old = req.session as unknown as OldSession;
    old["user"] = "ada";
    old["cart"] = [1, 2];
    res.type("text/plain").send("logged in");
  });
  app.get("/whoami", (req, res) => {
    res.json({ user: (req.session as unknown as OldSession)["user"] ?? null });
  });
  app.get("/sid", (req, res) => {
    res.type("text/plain").send((req.session as unknown as OldSession).id);
  });
  return app;
}

/**
 * The Tessera app after the switch: GET /me answers the session's key and data, /logout flushes
 * without reading, /untouched never touches the session, /boom reads it and fails with a 500.
 */
export function tesseraApp(sessions: Sessions): express.Express {
  const app = express();
  app.use(sessionMiddleware(sessions));
  app.get("/me", async (req, res) => {
    const data = Object.fromEntries(await req.session.items());
    res.json({ key: req.session.sessionKey, data });
  });
  app.get("/logout", async (req, res) => {
    await req.session.flush();
    res.type("text/plain").send("bye");
  });
  app.get("/untouched", (_req, res) => {
    res.type("text/plain").send("hello");
  });
  app.get("/boom", async (req, res) => {
    await req.session.items();
    res.status(500).type("text/plain").send("failed");
  });
  return app;
}

/** One response as a browser sees it. */
export interface Answer {
  readonly status: number;
  readonly body: string;
  /** The raw `Set-Cookie` values. */
  readonly setCookies: string[];
}

/** A cookie jar that follows Set-Cookie (Max-Age=0 or an epoch expiry deletes), whichever server answers. */
export class Browser {
  readonly cookies = new Map<string, string>();

  async request(url: string, method = "GET"): Promise<Answer> {
    const header = [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
    const response = await fetch(url, { method, redirect: "manual", headers: header === "" ? {} : { cookie: header } });
    const setCookies = response.headers.getSetCookie();
    for (const line of setCookies) {
      const [pair = ""] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      if (/;\s*max-age=0(;|$)|;\s*expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, pair.slice(eq + 1));
    }
    return { status: response.status, body: await response.text(), setCookies };
  }
}

/** The `Set-Cookie` express-session's clearing needs: the old name, emptied, expired, on the default path. */
export function clearing(name: string): string {
  return `${name}=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT`;
}

/** `/me`'s answer. */
export function me(answer: Answer): { key: string | null; data: Record<string, unknown> } {
  return JSON.parse(answer.body) as { key: string | null; data: Record<string, unknown> };
}
