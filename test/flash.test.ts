/**
 * Flash messages on every backend kind, through real HTTP (tessera-sessions/node on 127.0.0.1):
 * set on a POST that redirects, shown once on the page the redirect leads to, gone afterwards.
 * Server-side: memory, SQLite, file, Redis (a real redis-server), cached-db; in the cookie:
 * signed, encrypted, Django-format.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSessions, type FlashMessage, type SessionBackend } from "tessera-sessions";
import { cacheBackend } from "tessera-sessions/backends/cache";
import { cachedDatabaseBackend } from "tessera-sessions/backends/cached-db";
import { databaseBackend } from "tessera-sessions/backends/db";
import { fileBackend } from "tessera-sessions/backends/file";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { signedCookieBackend } from "tessera-sessions/backends/signed-cookies";
import { djangoCookieBackend } from "../src/backends/django-cookies.js";
import { withSession } from "tessera-sessions/node";
import { get, listen, setCookieValue, type Reply } from "./hardening/http.js";
import { startRedis, type RedisServer } from "./servers/redis.js";

const SECRET = "a-test-secret-that-is-at-least-32-bytes-long";
let redis: RedisServer;
let directory: string;
beforeAll(async () => {
  redis = await startRedis();
  directory = mkdtempSync(join(tmpdir(), "tessera-flash-"));
});
afterAll(async () => {
  await redis?.stop();
  rmSync(directory, { recursive: true, force: true });
});

const backends: [string, () => SessionBackend][] = [
  ["memory", () => memoryBackend()],
  ["SQLite", () => databaseBackend({ url: "sqlite::memory:" })],
  ["file", () => fileBackend({ directory })],
  ["Redis", () => cacheBackend({ url: redis.url, prefix: `flash-${Math.random()}:` })],
  ["cached-db", () => cachedDatabaseBackend({ cache: memoryBackend(), database: databaseBackend({ url: "sqlite::memory:" }) })],
  ["signed cookies", () => signedCookieBackend()],
  ["encrypted cookies", () => signedCookieBackend({ encrypt: true })],
  ["Django cookies", () => djangoCookieBackend()],
];

/**
 * POST-like `/save?level=&text=` flashes and redirects to `/`; `/` lists the flashes it reads;
 * `/errors` reads only the "error" ones; `/other` never reads them.
 */
function app(backend: SessionBackend) {
  const sessions = createSessions({ backend, secret: SECRET, cookie: { secure: false } });
  const server = createServer(
    withSession(sessions, async (req, res) => {
      const url = new URL(req.url ?? "/", "http://localhost");
      if (url.pathname === "/save") {
        await req.session.set("saved", true);
        for (const text of url.searchParams.getAll("text")) await req.session.flash(text, url.searchParams.get("level") ?? undefined);
        res.writeHead(303, { Location: "/" }).end();
      } else if (url.pathname === "/" || url.pathname === "/errors") {
        const shown: FlashMessage<string>[] = await req.session.flashes(url.pathname === "/errors" ? "error" : undefined);
        res.end(JSON.stringify(shown));
      } else {
        res.end(String(await req.session.get("saved")));
      }
    }),
  );
  return { sessions, server };
}

describe.each(backends)("flash messages on %s", (_name, makeBackend) => {
  let url: string;
  let stop: () => Promise<void>;
  beforeAll(async () => {
    const { sessions, server } = app(makeBackend());
    const listening = await listen(server);
    url = listening.url;
    stop = async () => {
      await listening.close();
      await sessions.close();
    };
  });
  afterAll(() => stop());

  /** Follows a reply's Set-Cookie, as a browser would. */
  const jar = { cookie: "" };
  const send = async (path: string): Promise<Reply> => {
    const reply = await get(url, path, jar.cookie === "" ? {} : { cookie: `sessionid=${jar.cookie}` });
    const value = setCookieValue(reply);
    if (value !== undefined) jar.cookie = value;
    return reply;
  };

  it("are set before a redirect, read once on the next request, then gone", async () => {
    jar.cookie = "";
    const saved = await send("/save?level=success&text=Saved.&text=Again.");
    expect(saved.status).toBe(303);
    expect(saved.headers.location).toBe("/");
    expect(jar.cookie).not.toBe("");
    expect(JSON.parse((await send("/")).body)).toEqual([
      { level: "success", message: "Saved." },
      { level: "success", message: "Again." },
    ]);
    expect((await send("/")).body).toBe("[]");
    expect((await send("/other")).body).toBe("true"); // the rest of the session is untouched
  });

  it("wait through requests that do not read them, and a level is read on its own", async () => {
    jar.cookie = "";
    await send("/save?text=Hello");
    await send("/save?level=error&text=Card+declined");
    expect((await send("/other")).body).toBe("true");
    expect(JSON.parse((await send("/errors")).body)).toEqual([{ level: "error", message: "Card declined" }]);
    expect((await send("/errors")).body).toBe("[]");
    expect(JSON.parse((await send("/")).body)).toEqual([{ level: "info", message: "Hello" }]);
  });
});

describe("flash() and flashes()", () => {
  it("reading none changes nothing, so a read-only page stays unsaved", async () => {
    const session = createSessions({ backend: memoryBackend() }).open();
    expect(await session.flashes()).toEqual([]);
    expect(session.modified).toBe(false);
  });

  it("refuse what JSON cannot store and an empty level", async () => {
    const session = createSessions({ backend: memoryBackend() }).open();
    await expect(session.flash(() => 1)).rejects.toThrow("[tessera] flash message is a function");
    await expect(session.flash("x", "")).rejects.toThrow('[tessera] flash() level must be a non-empty string, e.g. "success".');
    expect(session.modified).toBe(false);
  });

  it("drop a malformed stored list instead of showing it", async () => {
    const session = createSessions<Record<string, unknown>>({ backend: memoryBackend() }).open();
    await session.set("_flash", [{ level: "info", message: "kept" }, "junk", { message: "no level" }]);
    expect(await session.flashes()).toEqual([{ level: "info", message: "kept" }]);
    expect(await session.has("_flash")).toBe(false);
  });
});
