/**
 * The Next.js example (examples/next), built with `next build` and served by `next start` as a
 * user runs it: driven in Chromium (login, cart, reload, logout, a tampered cookie), its route
 * handlers through the session scenarios over HTTP, its Pages Router routes (the node adapter),
 * and on PostgreSQL crashed mid-test, where a
 * page that never touches its session still answers (so it made no store call) and the
 * session routes answer 503.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSessions, hashKey } from "tessera-sessions";
import { databaseBackend } from "tessera-sessions/backends/db";
import { useChromium } from "../browser.js";
import { startPostgres, type RestartableServer } from "../servers/postgres.js";
import { freePort } from "../servers/util.js";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const NEXT_BIN = join(repo, "node_modules", "next", "dist", "bin", "next");
const ENV = { ...process.env, NEXT_TELEMETRY_DISABLED: "1" };
const SESSION_COOKIE =
  /^sessionid=([a-z0-9]{32}); Max-Age=1209600; Path=\/; Expires=[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT; HttpOnly; SameSite=Lax$/;
const DELETION = "sessionid=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Lax";

/** Runs a command in the repository, failing with its output. */
function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd: repo, env: ENV, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${args.join(" ")} failed:\n${stdout}\n${stderr}`)) : resolve(),
    );
  });
}

interface App {
  readonly url: string;
  /** What the server printed (Tessera's warnings and errors among it). */
  readonly log: string[];
  stop(): Promise<void>;
}

/** `next start` on the built example, on a free loopback port, with `SESSION_DATABASE_URL`. */
async function startApp(databaseUrl: string): Promise<App> {
  const port = await freePort();
  const log: string[] = [];
  const child: ChildProcess = spawn(process.execPath, [NEXT_BIN, "start", "examples/next", "-H", "127.0.0.1", "-p", String(port)], {
    cwd: repo,
    env: { ...ENV, SESSION_DATABASE_URL: databaseUrl },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (chunk: Buffer) => log.push(chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => log.push(chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const url = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 30_000; ;) {
    if (child.exitCode !== null) throw new Error(`next start exited (${child.exitCode}):\n${log.join("")}`);
    if (
      await fetch(`${url}/about`).then(
        (res) => res.ok,
        () => false,
      )
    )
      break;
    if (Date.now() > deadline) throw new Error(`next start did not answer within 30 s:\n${log.join("")}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    url,
    log,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** The session key a session `Set-Cookie` sets, after checking every attribute. */
function keyIn(res: Response): string {
  const cookies = res.headers.getSetCookie();
  expect(cookies).toHaveLength(1);
  const match = SESSION_COOKIE.exec(cookies[0] ?? "");
  expect(match, `not a session cookie: ${cookies[0]}`).not.toBeNull();
  return (match as RegExpExecArray)[1] as string;
}

/** A JSON API call, with the session key as the cookie when given. */
function api(app: App, method: "GET" | "POST", path: string, options: { key?: string; cookie?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = {};
  const cookie = options.cookie ?? (options.key === undefined ? undefined : `sessionid=${options.key}`);
  if (cookie !== undefined) headers["cookie"] = cookie;
  if (method === "POST") headers["content-type"] = "application/json";
  return fetch(app.url + path, { method, headers, redirect: "manual", ...(method === "POST" ? { body: JSON.stringify(options.body ?? {}) } : {}) });
}

let work: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "tessera-next-"));
  // The example imports "tessera-sessions/..." through the package's exports, i.e. dist/ (test/build-dist.ts built it).
  await run(process.execPath, [NEXT_BIN, "build", "examples/next"]);
}, 300_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the Next.js example on SQLite", () => {
  let app: App;
  let file: string;
  beforeAll(async () => {
    file = join(work, "sessions.sqlite3");
    app = await startApp(`sqlite:${file}`);
  }, 60_000);
  afterAll(() => app?.stop());

  /** The stored record of `key`, read from the SQLite file the app writes. */
  const stored = (key: string) => {
    const db = new Database(file, { readonly: true });
    try {
      return db.prepare("SELECT * FROM tessera_sessions WHERE key_hash = ?").get(hashKey(key)) as Record<string, unknown> | undefined;
    } finally {
      db.close();
    }
  };

  describe("in Chromium", () => {
    const chromium = useChromium();

    it("logs in, fills the cart, keeps it over a reload, logs out, on a 390 px phone", async () => {
      const context = await chromium.newContext({ viewport: { width: 390, height: 800 } });
      const page = await context.newPage();
      const sessionCookie = async () => (await context.cookies()).find((cookie) => cookie.name === "sessionid");

      expect((await page.goto(app.url))?.status()).toBe(200);
      await page.getByLabel("Username").fill("ann <admin>");
      await page.getByRole("button", { name: "Log in" }).click();
      await expect.poll(() => page.locator("#username").textContent()).toBe("ann <admin>");
      const cookie = await sessionCookie();
      const key = cookie?.value ?? "";
      expect(key).toMatch(/^[a-z0-9]{32}$/);
      // Set by the Server Action through cookies(): the commit's attributes.
      expect(cookie).toMatchObject({ path: "/", httpOnly: true, secure: false, sameSite: "Lax" });
      expect(Math.abs((cookie?.expires ?? 0) - (Date.now() / 1000 + 1209600))).toBeLessThan(60);
      expect(JSON.parse(String(stored(key)?.["data"]))).toEqual({ username: "ann <admin>" });

      await page.getByLabel("Item").fill("apple");
      await page.getByRole("button", { name: "Add to cart" }).click();
      await expect.poll(() => page.locator("#cart li").allTextContents()).toEqual(["apple"]);
      await page.reload();
      expect(await page.locator("#cart li").allTextContents()).toEqual(["apple"]);
      expect(await page.locator("#username").textContent()).toBe("ann <admin>");
      // Nothing is wider than the phone.
      expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);

      // The proxy lets a signed-in visitor into /account.
      await page.goto(`${app.url}/account`);
      expect(await page.locator("#username").textContent()).toBe("ann <admin>");

      await page.goto(app.url);
      await page.getByRole("button", { name: "Log out" }).click();
      await expect.poll(() => page.getByLabel("Username").count()).toBe(1);
      expect(await page.locator("#empty").textContent()).toBe("Your cart is empty.");
      expect(await sessionCookie()).toBeUndefined();
      expect(stored(key)).toBeUndefined();

      // Signed out, the proxy sends /account back to the login form.
      await page.goto(`${app.url}/account`);
      expect(new URL(page.url()).pathname).toBe("/");
    });

    it("a tampered cookie is an empty session, not an error page", async () => {
      const context = await chromium.newContext();
      await context.addCookies([{ name: "sessionid", value: "forged%E0%A4%A-not-a-key", url: app.url }]);
      const page = await context.newPage();
      expect((await page.goto(app.url))?.status()).toBe(200);
      expect(await page.getByLabel("Username").count()).toBe(1);
      expect(await page.locator("#empty").textContent()).toBe("Your cart is empty.");
    });
  });

  describe("the route handlers through the session scenarios", () => {
    it("login sets a session cookie; read, write and logout (flush) over the same key", async () => {
      let res = await api(app, "POST", "/api/login", { body: { username: "bob" } });
      expect(res.status).toBe(200);
      const key = keyIn(res);
      expect(await res.json()).toEqual({ username: "bob" });

      res = await api(app, "GET", "/api/cart", { key });
      expect(await res.json()).toEqual({ username: "bob", cart: [] });
      expect(res.headers.getSetCookie()).toEqual([]); // a read saves nothing
      expect(res.headers.get("vary")).toMatch(/(^|, )Cookie(,|$)/);

      res = await api(app, "POST", "/api/cart", { key, body: { item: "pear" } });
      expect(await res.json()).toEqual({ cart: ["pear"] });
      expect(keyIn(res)).toBe(key);
      expect(JSON.parse(String(stored(key)?.["data"]))).toEqual({ username: "bob", cart: ["pear"] });

      res = await api(app, "POST", "/api/logout", { key });
      expect(res.headers.getSetCookie()).toEqual([DELETION]);
      expect(stored(key)).toBeUndefined();
      expect(await (await api(app, "GET", "/api/cart", { key })).json()).toEqual({ username: null, cart: [] });
    });

    it("login cycles the key: the cart stays, the old key is worthless", async () => {
      const anonymous = keyIn(await api(app, "POST", "/api/cart", { body: { item: "fig" } }));
      const res = await api(app, "POST", "/api/login", { key: anonymous, body: { username: "cy" } });
      const key = keyIn(res);
      expect(key).not.toBe(anonymous);
      expect(stored(anonymous)).toBeUndefined();
      expect(await (await api(app, "GET", "/api/cart", { key })).json()).toEqual({ username: "cy", cart: ["fig"] });
      const old = await api(app, "GET", "/api/cart", { key: anonymous });
      expect(await old.json()).toEqual({ username: null, cart: [] });
      expect(old.headers.getSetCookie()).toEqual([DELETION]);
    });

    it("a tampered or unknown cookie is an empty session (with a logged warning), never a 500", async () => {
      const malformed = await api(app, "GET", "/api/cart", { cookie: "sessionid=%E0%A4%A; other=1" });
      expect(malformed.status).toBe(200);
      expect(await malformed.json()).toEqual({ username: null, cart: [] });
      const unknown = await api(app, "GET", "/api/cart", { key: "a".repeat(32) });
      expect(unknown.status).toBe(200);
      expect(await unknown.json()).toEqual({ username: null, cart: [] });
      expect(unknown.headers.getSetCookie()).toEqual([DELETION]);
      expect(app.log.join("")).toContain("[tessera] Ignored a malformed session cookie");
    });

    it("refuses what a cross-site page could send (CSRF): another Origin, or a form instead of JSON", async () => {
      const forged = await fetch(`${app.url}/api/cart`, {
        method: "POST",
        headers: { origin: "http://evil.example", "content-type": "application/json" },
        body: '{"item":"x"}',
      });
      expect(forged.status).toBe(403);
      const form = await fetch(`${app.url}/api/cart`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "item=x" });
      expect(form.status).toBe(415);
      expect([forged, form].flatMap((res) => res.headers.getSetCookie())).toEqual([]);
    });

    it("the Pages Router through the node adapter: an API route and getServerSideProps share the session", async () => {
      let res = await fetch(`${app.url}/api/visits`);
      const key = keyIn(res);
      expect(await res.json()).toEqual({ visits: 1 });
      res = await fetch(`${app.url}/api/visits`, { headers: { cookie: `sessionid=${key}` } });
      expect(await res.json()).toEqual({ visits: 2 });
      res = await fetch(`${app.url}/visits`, { headers: { cookie: `sessionid=${key}` } });
      expect(res.status).toBe(200);
      expect(keyIn(res)).toBe(key);
      expect(await res.text()).toContain('id="visits">3<');
      expect(JSON.parse(String(stored(key)?.["data"]))).toEqual({ visits: 3 });
      const refused = await fetch(`${app.url}/api/visits`, { method: "POST" });
      expect([refused.status, refused.headers.getSetCookie()]).toEqual([405, []]);
    });

    it("a page that never touches the session sets no cookie and leaves the record as it was", async () => {
      const key = keyIn(await api(app, "POST", "/api/login", { body: { username: "dee" } }));
      const before = stored(key);
      const res = await fetch(`${app.url}/about`, { headers: { cookie: `sessionid=${key}` } });
      expect(res.status).toBe(200);
      expect(res.headers.getSetCookie()).toEqual([]);
      expect(stored(key)).toEqual(before);
    });
  });
});

describe("the Next.js example when its store goes down (PostgreSQL, crashed)", () => {
  let postgres: RestartableServer;
  let app: App;
  beforeAll(async () => {
    postgres = await startPostgres("tessera_next");
    // PostgreSQL tables are made by a migration (`npx tessera migrate` in a deployment).
    const sessions = createSessions({ backend: databaseBackend({ url: postgres.url }) });
    await sessions.migrate();
    await sessions.close();
    app = await startApp(postgres.url);
  }, 120_000);
  afterAll(async () => {
    await app?.stop();
    await postgres?.stop();
  });

  it("pages that need no session still answer (no store call); session routes answer 503; back with the store", async () => {
    const key = keyIn(await api(app, "POST", "/api/login", { body: { username: "eve" } }));
    await postgres.crash();

    // Any store call would fail now: these answers prove none was made.
    const about = await fetch(`${app.url}/about`, { headers: { cookie: `sessionid=${key}` } });
    expect(about.status).toBe(200);
    const anonymous = await fetch(app.url);
    expect(anonymous.status).toBe(200);
    expect(await anonymous.text()).toContain("Log in");
    expect(await (await api(app, "GET", "/api/cart")).json()).toEqual({ username: null, cart: [] });

    // What needs the session is a clear 503 from the route handlers.
    const read = await api(app, "GET", "/api/cart", { key });
    expect(read.status).toBe(503);
    expect(await read.text()).toBe("Service Unavailable");
    const write = await api(app, "POST", "/api/cart", { key, body: { item: "x" } });
    expect(write.status).toBe(503);
    expect(write.headers.getSetCookie()).toEqual([]);
    expect(app.log.join("")).toContain("[tessera] The session failed; answering 503.");
    // A Server Component cannot choose its status: the page fails to app/error.tsx.
    const page = await fetch(app.url, { headers: { cookie: `sessionid=${key}` } });
    expect(page.status).toBe(500);

    await postgres.restart();
    await expect.poll(async () => (await api(app, "GET", "/api/cart", { key })).status, { timeout: 15_000 }).toBe(200);
    // (The test server runs without synchronous commits, so the crash may have lost eve's record.)
    const again = keyIn(await api(app, "POST", "/api/login", { body: { username: "eve" } }));
    expect(await (await api(app, "GET", "/api/cart", { key: again })).json()).toEqual({ username: "eve", cart: [] });
  });
});
