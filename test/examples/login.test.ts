/**
 * The login demo over real HTTP: the flow a visitor goes through, on a temp SQLite file and a
 * fixed clock, checking cookies, stored records and pages exactly.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { hashKey } from "tessera-sessions";
import { createApp, DEMO_PASSWORD, DEMO_USERNAME, hashPassword, type LoginDemoOptions } from "../../examples/login/app.js";

// Every login runs scrypt (tens of milliseconds, far more on a loaded machine).
vi.setConfig({ testTimeout: 60_000 });

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
const KEY = /^sessionid=([a-z0-9]{32}); /;
const DELETION_COOKIE = "sessionid=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Lax";

interface Page {
  status: number;
  location: string | null;
  /** The session cookies set (the CSRF cookie is in `csrfCookies`). */
  setCookies: string[];
  csrfCookies: string[];
  headers: Headers;
  body: string;
}

/** A minimal browser: keeps the session cookie and the CSRF cookie as the server sets and deletes them. */
class Browser {
  cookie: string | undefined;
  csrfCookie: string | undefined;
  constructor(private readonly base: string) {}

  get(path: string): Promise<Page> {
    return this.request("GET", path);
  }

  post(path: string, form: Record<string, string>): Promise<Page> {
    return this.request("POST", path, form);
  }

  /** The CSRF token printed in `body`'s forms. */
  static token(body: string): string {
    const match = /name="csrf" value="([^"]+)"/.exec(body);
    if (match?.[1] === undefined) throw new Error("no CSRF token on the page");
    return match[1];
  }

  private async request(method: string, path: string, form?: Record<string, string>): Promise<Page> {
    const headers: Record<string, string> = {};
    const cookies = [this.cookie === undefined ? "" : `sessionid=${this.cookie}`, this.csrfCookie === undefined ? "" : `csrftoken=${this.csrfCookie}`];
    if (cookies.some(Boolean)) headers["cookie"] = cookies.filter(Boolean).join("; ");
    if (form !== undefined) headers["content-type"] = "application/x-www-form-urlencoded";
    const res = await fetch(this.base + path, { method, headers, redirect: "manual", ...(form ? { body: new URLSearchParams(form).toString() } : {}) });
    const all = res.headers.getSetCookie();
    const csrfCookies = all.filter((header) => header.startsWith("csrftoken="));
    const setCookies = all.filter((header) => !header.startsWith("csrftoken="));
    for (const header of csrfCookies) this.csrfCookie = /^csrftoken=([^;]*)/.exec(header)?.[1];
    for (const header of setCookies) {
      if (header.startsWith("sessionid=; Max-Age=0")) this.cookie = undefined;
      else this.cookie = KEY.exec(header)?.[1] ?? this.cookie;
    }
    return { status: res.status, location: res.headers.get("location"), setCookies, csrfCookies, headers: res.headers, body: await res.text() };
  }
}

let dir: string;
let database: string;
let server: Server | undefined;
let close: (() => Promise<void>) | undefined;

async function start(options: LoginDemoOptions = {}): Promise<Browser> {
  const { app, sessions } = createApp({ databaseUrl: `sqlite:${database}`, clock: () => T0, ...options });
  const listening = app.listen(0, "127.0.0.1");
  await new Promise<void>((resolve) => listening.once("listening", () => resolve()));
  server = listening;
  close = async () => {
    await new Promise<void>((resolve) => listening.close(() => resolve()));
    await sessions.close();
  };
  return new Browser(`http://127.0.0.1:${(listening.address() as AddressInfo).port}`);
}

/** Whether the database holds a record for `key` (stored as its SHA-256). */
function stored(key: string | undefined): boolean {
  const db = new Database(database, { readonly: true });
  try {
    return db.prepare("SELECT 1 FROM tessera_sessions WHERE key_hash = ?").get(hashKey(key ?? "")) !== undefined;
  } finally {
    db.close();
  }
}

/** How many records the store holds (none when the lazy store never even opened its file). */
function sessionCount(): number {
  if (!existsSync(database)) return 0;
  const db = new Database(database, { readonly: true });
  try {
    return (db.prepare("SELECT COUNT(*) AS n FROM tessera_sessions").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Logs `browser` in as the demo user and returns the dashboard redirect. */
async function logIn(browser: Browser, username = DEMO_USERNAME, password = DEMO_PASSWORD): Promise<Page> {
  const form = await browser.get("/login");
  return browser.post("/login", { csrf: Browser.token(form.body), username, password });
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tessera-login-demo-"));
  database = join(dir, "sessions.sqlite3");
});

afterEach(async () => {
  await close?.();
  close = undefined;
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe("login demo", () => {
  it("serves the login form with the demo credentials and a CSRF cookie, storing no session for a visitor who only looks", async () => {
    const browser = await start();
    const first = await browser.get("/");
    expect(first).toMatchObject({ status: 302, location: "/login" });
    expect(first.csrfCookies).toEqual([]); // a redirect shows no form

    const page = await browser.get("/login");
    expect(page.status).toBe(200);
    expect(page.body).toContain("Demo account: username <strong>demo</strong>, password <strong>tessera-demo</strong>.");
    expect(page.csrfCookies).toEqual([`csrftoken=${browser.csrfCookie}; Path=/; HttpOnly; SameSite=Lax`]);
    expect(browser.csrfCookie).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const token = Browser.token(page.body);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(token).not.toBe(browser.csrfCookie); // an HMAC of the cookie (tessera-sessions/csrf), not the cookie
    const again = await browser.get("/login");
    expect(again.csrfCookies).toEqual([]); // the cookie is kept, not reissued
    expect(Browser.token(again.body)).toBe(token);
    expect(page.setCookies).toEqual([]); // no session cookie, and no record in the store
    expect(sessionCount()).toBe(0);
    expect(page.headers.get("cache-control")).toBe("no-store");
    expect(page.headers.get("content-security-policy")).toMatch(
      /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]{43}='; form-action 'self'; frame-ancestors 'none'; base-uri 'none'$/,
    );
    expect(page.headers.get("vary")).toBe("Cookie");

    // The first change starts the session: its cookie carries exactly Django's attributes.
    const added = await browser.post("/cart/add", { csrf: Browser.token(page.body), product: "tea" });
    expect(added.setCookies).toEqual([`sessionid=${browser.cookie}; Max-Age=1209600; Path=/; Expires=Tue, 15 Jan 2030 12:00:00 GMT; HttpOnly; SameSite=Lax`]);
    expect(stored(browser.cookie)).toBe(true);
  });

  it("refuses a wrong password or an unknown user, keeping the visitor logged out", async () => {
    const browser = await start();
    const form = await browser.get("/login");
    const cookie = browser.cookie;
    for (const [username, password] of [
      [DEMO_USERNAME, "tessera-dem0"],
      ["nobody", DEMO_PASSWORD],
      [DEMO_USERNAME, ""],
    ] as const) {
      const page = await browser.post("/login", { csrf: Browser.token(form.body), username, password });
      expect(page.status).toBe(200);
      expect(page.body).toContain('<p class="error">Wrong username or password.</p>');
      expect(page.body).toContain(`name="username" type="text" autocomplete="username" required value="${username}"`);
      expect(page.setCookies).toEqual([]);
    }
    expect(browser.cookie).toBe(cookie);
    expect(await browser.get("/dashboard")).toMatchObject({ status: 302, location: "/login" });
  });

  it("logs in with a new session key (cycleKey), deleting the old record and retiring the old CSRF token", async () => {
    const browser = await start();
    const form = await browser.get("/login");
    const oldToken = Browser.token(form.body);
    await browser.post("/cart/add", { csrf: oldToken, product: "tea" }); // an anonymous session, as a planted one would be
    const before = browser.cookie;
    expect(stored(before)).toBe(true);

    const login = await browser.post("/login", { csrf: oldToken, username: DEMO_USERNAME, password: DEMO_PASSWORD });
    expect(login).toMatchObject({ status: 303, location: "/dashboard" });
    expect(login.setCookies).toHaveLength(1);
    expect(login.csrfCookies).toEqual([]); // the cookie stays; the tokens change with the session key
    expect(browser.cookie).toMatch(/^[a-z0-9]{32}$/);
    expect(browser.cookie).not.toBe(before);
    expect(stored(before)).toBe(false);
    expect(stored(browser.cookie)).toBe(true);

    const dashboard = await browser.get("/dashboard");
    expect(dashboard.status).toBe(200);
    expect(dashboard.body).toContain("<h1>Welcome, demo</h1>");
    expect(Browser.token(dashboard.body)).not.toBe(oldToken);
    expect((await browser.post("/cart/add", { csrf: oldToken, product: "tea" })).status).toBe(403);

    // The key an attacker might have planted before login now opens nothing.
    const planted = new Browser(`http://127.0.0.1:${(server?.address() as AddressInfo).port}`);
    planted.cookie = before;
    expect(await planted.get("/dashboard")).toMatchObject({ status: 302, location: "/login" });
  });

  it("greets the user with their name HTML-escaped", async () => {
    const username = `<b>"Ann" & 'co'</b>`;
    const browser = await start({ users: { [username]: await hashPassword("s3cret-pass") } });
    expect(await logIn(browser, username, "s3cret-pass")).toMatchObject({ status: 303, location: "/dashboard" });
    const dashboard = await browser.get("/dashboard");
    expect(dashboard.body).toContain("<h1>Welcome, &#60;b&#62;&#34;Ann&#34; &#38; &#39;co&#39;&#60;/b&#62;</h1>");
    expect(dashboard.body).not.toContain("<b>");
  });

  it("keeps the cart across requests, and across login", async () => {
    const browser = await start();
    const token = () => browser.get("/cart").then((page) => Browser.token(page.body));

    expect(await browser.post("/cart/add", { csrf: await token(), product: "tea" })).toMatchObject({ status: 303, location: "/cart" });
    await browser.post("/cart/add", { csrf: await token(), product: "tea" });
    await browser.post("/cart/add", { csrf: await token(), product: "pen" });
    let cart = await browser.get("/cart");
    expect(cart.body).toContain('<a href="/cart">Cart (3)</a>');
    expect(cart.body).toContain('<tr><td>Sencha green tea</td><td class="num">2</td><td class="num">€17.00</td>');
    expect(cart.body).toContain('<tr><td>Fountain pen</td><td class="num">1</td><td class="num">€26.00</td>');
    expect(cart.body).toContain('<tr><th>Total</th><th></th><th class="num">€43.00</th><th></th></tr>');

    await logIn(browser);
    cart = await browser.get("/cart");
    expect(cart.body).toContain('<a href="/cart">Cart (3)</a>');

    await browser.post("/cart/remove", { csrf: Browser.token(cart.body), product: "tea" });
    cart = await browser.get("/cart");
    expect(cart.body).toContain('<a href="/cart">Cart (1)</a>');
    expect(cart.body).not.toMatch(/<tr><td>Sencha green tea<\/td><td class="num">\d+<\/td>/); // no cart line, only the product list
    expect(cart.body).toContain('<tr><th>Total</th><th></th><th class="num">€26.00</th><th></th></tr>');
    expect((await browser.post("/cart/add", { csrf: Browser.token(cart.body), product: "__proto__" })).status).toBe(400);
  });

  it("shows the session's expiry and changes it with setExpiry", async () => {
    const browser = await start();
    await logIn(browser);
    let page = await browser.get("/session");
    expect(page.body).toContain('<dt>Expires</dt><dd><time datetime="2030-01-15T12:00:00.000Z">Tue, 15 Jan 2030 12:00:00 GMT</time></dd>');
    expect(page.body).toContain("<dt>Time left</dt><dd>1209600 seconds (14 days)</dd>");
    expect(page.body).toContain("<dt>Cookie</dt><dd>persistent until the expiry</dd>");

    const choose = async (expiry: string) => {
      const result = await browser.post("/session/expiry", { csrf: Browser.token(page.body), expiry });
      expect(result).toMatchObject({ status: 303, location: "/session" });
      page = await browser.get("/session");
      return result;
    };

    const fiveMinutes = await choose("5m");
    expect(fiveMinutes.setCookies).toEqual([`sessionid=${browser.cookie}; Max-Age=300; Path=/; Expires=Tue, 01 Jan 2030 12:05:00 GMT; HttpOnly; SameSite=Lax`]);
    expect(page.body).toContain("<dt>Time left</dt><dd>300 seconds (5 minutes)</dd>");
    // The dropdown shows the choice that was applied, not the first option again.
    expect(page.body).toContain('<option value="5m" selected>Five minutes after the last change</option>');
    expect(page.body.match(/ selected>/g)).toHaveLength(1);

    await choose("30d");
    expect(page.body).toContain('<time datetime="2030-01-31T12:00:00.000Z">Thu, 31 Jan 2030 12:00:00 GMT</time>');
    expect(page.body).toContain("<dt>Time left</dt><dd>2592000 seconds (30 days)</dd>");

    const browserClose = await choose("browser");
    expect(browserClose.setCookies).toEqual([`sessionid=${browser.cookie}; Path=/; HttpOnly; SameSite=Lax`]);
    expect(page.body).toContain("<dt>Cookie</dt><dd>deleted when the browser closes</dd>");
    expect(page.body).toContain('<option value="browser" selected>When the browser closes</option>');

    await choose("default");
    expect(page.body).toContain("<dt>Time left</dt><dd>1209600 seconds (14 days)</dd>");
    expect((await browser.post("/session/expiry", { csrf: Browser.token(page.body), expiry: "forever" })).status).toBe(400);
  });

  it("logs out with flush(): the record is deleted and so is the cookie", async () => {
    const browser = await start();
    await logIn(browser);
    const key = browser.cookie;
    const dashboard = await browser.get("/dashboard");

    const logout = await browser.post("/logout", { csrf: Browser.token(dashboard.body) });
    expect(logout).toMatchObject({ status: 303, location: "/login?loggedOut=1" });
    expect(logout.setCookies).toEqual([DELETION_COOKIE]);
    expect(browser.cookie).toBeUndefined();
    expect(stored(key)).toBe(false);

    const login = await browser.get("/login?loggedOut=1");
    expect(login.body).toContain("You have been logged out, and your session deleted.");
    expect(browser.cookie).not.toBe(key);
    expect(await browser.get("/dashboard")).toMatchObject({ status: 302, location: "/login" });
  });

  it("answers 403 to a POST without the CSRF cookie's token, changing nothing", async () => {
    const browser = await start();
    await logIn(browser);
    const key = browser.cookie;

    for (const form of [{}, { csrf: "" }, { csrf: "forged-token" }, { csrf: `${Browser.token((await browser.get("/cart")).body)}x` }]) {
      const logout = await browser.post("/logout", form);
      expect(logout.status).toBe(403);
      expect(logout.body).toContain("The form's security token is missing or out of date (CSRF check failed).");
      expect(logout.setCookies).toEqual([]);
      expect((await browser.post("/cart/add", { ...form, product: "tea" })).status).toBe(403);
    }
    expect(browser.cookie).toBe(key);
    expect(stored(key)).toBe(true);
    expect((await browser.get("/cart")).body).toContain('<a href="/cart">Cart (0)</a>');

    // A visitor with no session at all has no token to match.
    const stranger = new Browser(`http://127.0.0.1:${(server?.address() as AddressInfo).port}`);
    expect((await stranger.post("/login", { csrf: "anything", username: DEMO_USERNAME, password: DEMO_PASSWORD })).status).toBe(403);
  });

  it("names a client's mistake as such: a too-large form is 413 with its own message, not 'our side'", async () => {
    const browser = await start();
    const token = Browser.token((await browser.get("/login")).body);
    const page = await browser.post("/login", { csrf: token, username: "x".repeat(20_000), password: "p" });
    expect(page.status).toBe(413);
    expect(page.body).toContain('<p class="error">The form you sent is too large.</p>');
    expect(page.body).not.toContain("our side");
  });
});
