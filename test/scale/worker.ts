/**
 * One app process of multi-process.test.ts: a node:http server with tessera-sessions/node on shared
 * stores, listening on a free loopback port. It prints `{"port":…}` once listening and closes its
 * sessions (`sessions.close()`) on SIGTERM, as a deployed process should.
 *
 * Usage: node <hooks> worker.ts <name>=<store url>...   (sqlite:<file>, postgres://…, redis://…)
 * One process serves every store given, each under its own path prefix, so the test starts
 * 4 processes rather than 4 per store (loading the TypeScript sources takes seconds).
 *
 * Routes under /<name> (each answers JSON with this process's pid and the session's data):
 *   GET /<name>/add?n=N      sets r<N> = N in the visitor's session
 *   GET /<name>/data         reads the session
 *   GET /<name>/set?k=K&v=V  sets K = V
 *   GET /<name>/flush        flushes the session (data gone, key replaced)
 */
import { createServer } from "node:http";
import { createSessions, type ServerBackend, type Sessions } from "tessera-sessions";
import { cacheBackend } from "tessera-sessions/backends/cache";
import { databaseBackend } from "tessera-sessions/backends/db";
import { withSession } from "tessera-sessions/node";

const stores = process.argv.slice(2).map((arg) => /^([a-z]+)=(.+)$/.exec(arg));
if (stores.length === 0 || stores.some((m) => m === null)) throw new Error("usage: worker.ts <name>=<store url>...");
const logger = { warn: () => {}, error: (...args: unknown[]) => console.error(...args) };
const apps = new Map<string, Sessions>();
for (const match of stores) {
  const [, name, url] = match as unknown as [string, string, string];
  const backend: ServerBackend = url.startsWith("redis") ? cacheBackend({ url }) : databaseBackend({ url, poolSize: 5 });
  apps.set(name, createSessions({ backend, logger }));
}
const handlers = new Map([...apps].map(([name, sessions]) => [name, handler(sessions)]));

const server = createServer((req, res) => {
  const name = /^\/([a-z]+)\//.exec(req.url ?? "")?.[1] ?? "";
  const serve = handlers.get(name);
  if (serve) serve(req, res);
  else res.writeHead(404).end("{}");
});

function handler(sessions: Sessions) {
  return withSession(sessions, async (req, res) => {
    const query = new URL(req.url ?? "/", "http://x").searchParams;
    const path = new URL(req.url ?? "/", "http://x").pathname.replace(/^\/[a-z]+/, "");
    if (path === "/add") {
      const n = Number(query.get("n"));
      await req.session.set(`r${n}`, n);
    } else if (path === "/set") {
      await req.session.set(query.get("k") ?? "k", query.get("v"));
    } else if (path === "/flush") {
      await req.session.flush();
    } else if (path !== "/data") {
      res.statusCode = 404;
    }
    const data = Object.fromEntries(await req.session.items());
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ pid: process.pid, data }));
  });
}
server.keepAliveTimeout = 1000;
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === "object" && address ? address.port : 0 })}\n`);
});

process.once("SIGTERM", () => {
  server.close(() => {
    void Promise.all([...apps.values()].map((sessions) => sessions.close())).then(() => process.exit(0));
  });
  server.closeAllConnections();
});
