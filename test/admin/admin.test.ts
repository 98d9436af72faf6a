/**
 * The session admin end to end: a real node:http server on 127.0.0.1, real headless Chromium
 * (Debian's /usr/bin/chromium through playwright-core), and plain HTTP for what a browser would
 * never send (forged and missing CSRF tokens).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Page } from "playwright-core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ConfigurationError, createSessions, hashKey, type Sessions } from "tessera-sessions";
import { createAdmin, toNodeHandler } from "tessera-sessions/admin";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { databaseBackend } from "tessera-sessions/backends/db";
import { signedCookieBackend } from "tessera-sessions/backends/signed-cookies";
import { withSession, type RequestWithSession } from "tessera-sessions/node";
import { sessionMiddleware } from "tessera-sessions/express";
import express from "express";
import { listedIds, useChromium } from "../browser.js";

// Chromium shares two cores with the other suites in CI: room for a slow start.
vi.setConfig({ testTimeout: 60_000 });

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);
const MINUTE = 60_000;
const BASE = "/admin/sessions";

/** The part of a page element the layout checks measure (in the page, where the DOM exists). */
interface ScrollBox {
  ownerDocument: unknown;
  scrollWidth: number;
  clientWidth: number;
  scrollLeft: number;
  getBoundingClientRect(): { right: number };
  querySelector(selector: string): unknown;
}
const SECRET = "admin-test-secret-0123456789abcdefghijkl";
const quiet = { warn() {}, error() {} };

interface Seeded {
  key: string;
  id: string;
  createdAt: number;
  user: string | null;
  expired: boolean;
}

interface App {
  url: string;
  sessions: Sessions;
  clock: { now: number };
  staffKey: string;
  visitorKey: string;
  seeded: Seeded[];
  close(): Promise<void>;
}

const apps: App[] = [];

/**
 * A server with the admin at /admin/sessions (staff only) and /whoami (the visitor's name).
 * Seeds: the staff session, a non-staff visitor, nine sessions a minute apart (three of alice,
 * two of bob, one holding a <script>, two already expired).
 */
async function startApp(options: { pageSize?: number; sqlite?: boolean } = {}): Promise<App> {
  const clock = { now: T0 };
  const backend = options.sqlite ? databaseBackend({ url: "sqlite::memory:" }) : memoryBackend();
  const sessions = createSessions({ backend, secret: SECRET, clock: () => clock.now, cookie: { secure: false }, logger: quiet });
  const make = async (data: Record<string, unknown>, user: string | null, expirySeconds?: number) => {
    const session = sessions.open();
    await session.update(data);
    if (user !== null) await session.setUser(user);
    if (expirySeconds !== undefined) await session.setExpiry(expirySeconds);
    await session.save();
    return session.sessionKey as string;
  };
  const staffKey = await make({ name: "Stella", staff: true }, "staff-1");
  clock.now += MINUTE;
  const visitorKey = await make({ name: "Victor" }, "visitor-1");
  const plan: [Record<string, unknown>, string | null, number?][] = [
    [{ name: "Alice", agent: "laptop" }, "alice"],
    [{ name: "Bob" }, "bob"],
    [{ name: "Alice", agent: "phone" }, "alice"],
    [{ cart: [1, 2, 3] }, null, 30],
    [{ name: "Bob", agent: "tablet" }, "bob"],
    [{ note: "<script>alert('xss')</script>", quote: `"'&` }, "mallory"],
    [{ name: "Alice", agent: "desktop" }, "alice"],
    [{ cart: [] }, null, 30],
    [{ theme: "dark" }, null],
  ];
  const seeded: Seeded[] = [];
  for (const [data, user, expiry] of plan) {
    clock.now += MINUTE;
    const key = await make(data, user, expiry);
    seeded.push({ key, id: hashKey(key), createdAt: clock.now, user, expired: expiry !== undefined });
  }
  clock.now += 10 * MINUTE; // the two 30-second sessions have expired

  const admin = createAdmin({
    sessions,
    pageSize: options.pageSize ?? 5,
    authorize: async (request) => (await sessions.openFromHeader(request.headers.get("cookie") ?? undefined).get("staff")) === true,
  });
  const adminListener = toNodeHandler(admin);
  const app = withSession(sessions, async (req, res) => {
    res.setHeader("Content-Type", "application/json");
    res.end(JSON.stringify({ name: (await req.session.get("name")) ?? null }));
  });
  const server: Server = createServer((req, res) => ((req.url ?? "").startsWith(BASE) ? adminListener(req, res) : app(req, res)));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const built: App = {
    url,
    sessions,
    clock,
    staffKey,
    visitorKey,
    seeded,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await sessions.close();
    },
  };
  apps.push(built);
  return built;
}

/** Listing order: newest first, then the greater id. */
function newestFirst(app: App): string[] {
  const all = [
    ...app.seeded.map((s) => ({ id: s.id, createdAt: s.createdAt })),
    { id: hashKey(app.staffKey), createdAt: T0 },
    { id: hashKey(app.visitorKey), createdAt: T0 + MINUTE },
  ];
  return all.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1)).map((s) => s.id);
}

const allKeys = (app: App) => [app.staffKey, app.visitorKey, ...app.seeded.map((s) => s.key)];
const cookieFor = (key: string) => `sessionid=${key}`;
/** ICU puts a narrow no-break space before AM/PM; compare with plain spaces. */
const spaced = (text: string | null) => (text ?? "").replace(/\u202f/g, " ");
/** The list URL an action redirects to: its notice, signed for this browser. */
const noticeUrl = (query: string) => new RegExp(`^${BASE}/\\?${query.replace(/[?&]/g, "\\$&")}&sig=[A-Za-z0-9_-]{43}$`);

afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

describe("admin in headless Chromium", () => {
  const browser = useChromium();

  /** A browser tab signed in as staff (the staff session's cookie), optionally without JavaScript. */
  async function staffPage(app: App, javaScriptEnabled = true): Promise<Page> {
    const context = await browser.newContext({ javaScriptEnabled, timezoneId: "Asia/Tokyo", locale: "en-US" });
    await context.addCookies([{ name: "sessionid", value: app.staffKey, url: app.url }]);
    return context.newPage();
  }

  it("lists sessions newest first over keyset pages, and never shows a session key", async () => {
    const app = await startApp();
    const page = await staffPage(app);
    const response = await page.goto(`${app.url}${BASE}`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()["cache-control"]).toBe("no-store");
    const order = newestFirst(app);
    expect(await listedIds(page)).toEqual(order.slice(0, 5));
    expect(await page.locator("tbody tr").first().locator("td").nth(1).textContent()).toBe(`${order[0]?.slice(0, 12)}…`);
    const htmlPages = [await page.content()];
    await page.screenshot({ path: "/tmp/admin.png", fullPage: true });

    await page.getByRole("link", { name: "Older →" }).click();
    expect(await listedIds(page)).toEqual(order.slice(5, 10));
    htmlPages.push(await page.content());
    await page.getByRole("link", { name: "Older →" }).click();
    expect(await listedIds(page)).toEqual(order.slice(10));
    expect(await page.getByRole("link", { name: "Older →" }).count()).toBe(0);
    htmlPages.push(await page.content());

    // Columns: status and user of a known row; times are <time> elements in the viewer's zone.
    const expiredRow = page.locator("tr", { has: page.locator(`input[value="${app.seeded[3]?.id}"]`) });
    await page.goto(`${app.url}${BASE}/?state=expired`);
    expect(await listedIds(page)).toEqual([app.seeded[7]?.id, app.seeded[3]?.id]);
    expect(await expiredRow.locator(".badge").textContent()).toBe("Expired");
    const created = expiredRow.locator("time").first();
    expect(await created.getAttribute("datetime")).toBe(new Date(app.seeded[3]?.createdAt as number).toISOString());
    expect(await created.getAttribute("title")).toBe("2026-06-01 12:05:00 UTC");
    expect(spaced(await created.textContent())).toBe("Jun 1, 2026, 9:05:00 PM"); // Asia/Tokyo
    htmlPages.push(await page.content());
    await page.goto(`${app.url}${BASE}/?state=active`);
    expect(await listedIds(page)).toEqual(order.filter((id) => id !== app.seeded[3]?.id && id !== app.seeded[7]?.id).slice(0, 5));

    for (const html of htmlPages) for (const key of allKeys(app)) expect(html).not.toContain(key);
  });

  it("finds a session by its key without putting the key in a URL, and filters by user", async () => {
    const app = await startApp();
    const page = await staffPage(app);
    await page.goto(`${app.url}${BASE}`);
    const target = app.seeded[1] as Seeded;
    await page.getByLabel("Find by session key").fill(target.key);
    await page.getByRole("button", { name: "Find" }).click();
    expect(page.url()).toBe(`${app.url}${BASE}/?id=${target.id}`);
    expect(await listedIds(page)).toEqual([target.id]);
    expect(await page.content()).not.toContain(target.key);

    await page.getByLabel("Find by session key").fill("not a key!");
    await page.getByRole("button", { name: "Find" }).click();
    expect(await page.getByRole("status").textContent()).toContain("That is not a session key.");

    await page.getByLabel("User id").fill("alice");
    await page.getByRole("button", { name: "Filter" }).click();
    expect(page.url()).toBe(`${app.url}${BASE}/?user=alice&state=all`);
    const alice = app.seeded
      .filter((s) => s.user === "alice")
      .sort((a, b) => b.createdAt - a.createdAt)
      .map((s) => s.id);
    expect(await listedIds(page)).toEqual(alice);
  });

  it("shows a session's data pretty-printed and escaped, with times in the viewer's zone", async () => {
    const app = await startApp();
    const page = await staffPage(app);
    const dialogs: string[] = [];
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const target = app.seeded[5] as Seeded;
    await page.goto(`${app.url}${BASE}`);
    await page.getByRole("link", { name: `${target.id.slice(0, 12)}…` }).click();
    expect(page.url()).toBe(`${app.url}${BASE}/session/${target.id}`);
    expect(await page.locator("pre").textContent()).toBe(JSON.stringify({ note: "<script>alert('xss')</script>", quote: `"'&` }, null, 2));
    expect(await page.locator("dd.mono").textContent()).toBe(target.id);
    expect(spaced(await page.locator("time").first().textContent())).toBe("Jun 1, 2026, 9:07:00 PM");
    // The bytes the server sent (page.content() would re-serialize the DOM).
    const source = (await page.reload().then((r) => r?.text())) ?? "";
    expect(source).toContain("&#60;script&#62;alert(&#39;xss&#39;)&#60;/script&#62;");
    expect(source).not.toContain("<script>alert");
    expect(dialogs).toEqual([]);
    await page.screenshot({ path: "/tmp/admin-detail.png", fullPage: true });
    for (const key of allKeys(app)) expect(source).not.toContain(key);
    expect((await page.goto(`${app.url}${BASE}/session/${"0".repeat(64)}`))?.status()).toBe(404);
  });

  it("deletes one session after a confirmation; its owner's next request is signed out", async () => {
    const app = await startApp();
    const target = app.seeded[0] as Seeded;
    const before = await fetch(`${app.url}/whoami`, { headers: { cookie: cookieFor(target.key) } });
    expect(await before.json()).toEqual({ name: "Alice" });

    const page = await staffPage(app);
    await page.goto(`${app.url}${BASE}/session/${target.id}`);
    // Dismissing the dialog changes nothing.
    page.once("dialog", (d) => void d.dismiss());
    await page.getByRole("button", { name: "Delete this session" }).click();
    expect(page.url()).toBe(`${app.url}${BASE}/session/${target.id}`);
    expect(await fetch(`${app.url}/whoami`, { headers: { cookie: cookieFor(target.key) } }).then((r) => r.json())).toEqual({ name: "Alice" });

    let question = "";
    page.once("dialog", (d) => {
      question = d.message();
      void d.accept();
    });
    await page.getByRole("button", { name: "Delete this session" }).click();
    await page.waitForURL((url) => noticeUrl("notice=deleted&count=1").test(`${url.pathname}${url.search}`));
    expect(question).toBe("Delete this session? Whoever uses it is signed out.");
    expect(await page.getByRole("status").textContent()).toBe("Deleted 1 session.");
    expect(await listedIds(page)).not.toContain(target.id);
    expect(await fetch(`${app.url}/whoami`, { headers: { cookie: cookieFor(target.key) } }).then((r) => r.json())).toEqual({ name: null });
  });

  it("deletes the selected sessions, deletes all expired (with the count), and ends a user's sessions", async () => {
    const app = await startApp({ pageSize: 50 });
    const page = await staffPage(app);
    page.on("dialog", (d) => void d.accept());
    await page.goto(`${app.url}${BASE}`);
    const [first, second] = [app.seeded[8] as Seeded, app.seeded[6] as Seeded];
    await page.locator(`input[value="${first.id}"]`).check();
    await page.locator(`input[value="${second.id}"]`).check();
    await page.getByRole("button", { name: "Delete selected" }).click();
    await page.waitForURL(/notice=deleted/);
    expect(await page.getByRole("status").textContent()).toBe("Deleted 2 sessions.");
    expect(await listedIds(page)).toEqual(newestFirst(app).filter((id) => id !== first.id && id !== second.id));

    await page.getByRole("button", { name: "Delete all expired" }).click();
    await page.waitForURL(/notice=cleared/);
    expect(await page.getByRole("status").textContent()).toBe("Deleted 2 expired sessions.");
    expect(await page.locator(".badge.expired").count()).toBe(0);

    // End bob's sessions from a filtered list; bob's other browser is signed out.
    const bob = app.seeded.filter((s) => s.user === "bob");
    await page.goto(`${app.url}${BASE}/?user=bob`);
    expect(await listedIds(page)).toHaveLength(2);
    await page.getByRole("button", { name: "End all sessions of user bob" }).click();
    await page.waitForURL(/notice=ended/);
    expect(await page.getByRole("status").textContent()).toBe("Ended 2 sessions of user bob.");
    expect(await listedIds(page)).toEqual([]);
    for (const s of bob) expect(await fetch(`${app.url}/whoami`, { headers: { cookie: cookieFor(s.key) } }).then((r) => r.json())).toEqual({ name: null });
    expect(await fetch(`${app.url}/whoami`, { headers: { cookie: cookieFor(app.visitorKey) } }).then((r) => r.json())).toEqual({ name: "Victor" });
  });

  it("ends a user's sessions while that user browses in another context; their next request is signed out", async () => {
    const app = await startApp();
    const owner = await browser.newContext();
    const alice = app.seeded[6] as Seeded;
    await owner.addCookies([{ name: "sessionid", value: alice.key, url: app.url }]);
    const ownerPage = await owner.newPage();
    await ownerPage.goto(`${app.url}/whoami`);
    expect(await ownerPage.locator("body").textContent()).toBe('{"name":"Alice"}');

    const page = await staffPage(app);
    page.on("dialog", (d) => void d.accept());
    await page.goto(`${app.url}${BASE}/session/${alice.id}`);
    await page.getByRole("button", { name: "End all sessions of user alice" }).click();
    await page.waitForURL(/notice=ended/);
    expect(await page.getByRole("status").textContent()).toBe("Ended 3 sessions of user alice.");

    await ownerPage.reload();
    expect(await ownerPage.locator("body").textContent()).toBe('{"name":null}');
    expect((await owner.cookies()).filter((c) => c.name === "sessionid")).toEqual([]); // the stale cookie was deleted
  });

  it("works without JavaScript: UTC times, and a confirmation page before each action", async () => {
    const app = await startApp();
    const page = await staffPage(app, false);
    const target = app.seeded[2] as Seeded;
    await page.goto(`${app.url}${BASE}/session/${target.id}`);
    expect(await page.locator("time").first().textContent()).toBe("2026-06-01 12:04:00 UTC");
    await page.getByRole("button", { name: "End all sessions of user alice" }).click();
    expect(await page.locator("h1").textContent()).toBe("End every session of user alice?");
    expect(await app.sessions.listForUser("alice")).toHaveLength(3); // nothing happened yet
    await page.getByRole("button", { name: "Yes, continue" }).click();
    await page.waitForURL(/notice=ended/);
    expect(await page.getByRole("status").textContent()).toBe("Ended 3 sessions of user alice.");
    expect(await app.sessions.listForUser("alice")).toEqual([]);
  });

  it("answers 404 to visitors who are not staff, in the browser as over HTTP", async () => {
    const app = await startApp();
    const context = await browser.newContext();
    await context.addCookies([{ name: "sessionid", value: app.visitorKey, url: app.url }]);
    const page = await context.newPage();
    const response = await page.goto(`${app.url}${BASE}`);
    expect(response?.status()).toBe(404);
    expect(await page.locator("body").textContent()).toBe("Not Found");
    for (const cookie of [undefined, cookieFor(app.visitorKey), "sessionid=forgedforgedforged"]) {
      for (const path of [BASE, `${BASE}/`, `${BASE}/session/${app.seeded[0]?.id}`]) {
        const r = await fetch(`${app.url}${path}`, { headers: cookie === undefined ? {} : { cookie } });
        expect([r.status, r.headers.get("cache-control"), r.headers.get("set-cookie"), await r.text()]).toEqual([404, "no-store", null, "Not Found"]);
      }
      const post = await fetch(`${app.url}${BASE}/clear-expired`, {
        method: "POST",
        headers: { ...(cookie ? { cookie } : {}), "content-type": "application/x-www-form-urlencoded" },
        body: "confirmed=1",
      });
      expect(post.status).toBe(404);
    }
    expect(await app.sessions.clearExpired()).toBe(2); // the refused posts deleted nothing
  });

  it("offers only the actions that can do something: no selection on an empty list, no 'Delete all expired' without expired sessions (issue 13, item 20)", async () => {
    const app = await startApp({ pageSize: 50 });
    const page = await staffPage(app);
    await page.goto(`${app.url}${BASE}/?user=nobody`);
    expect(await page.locator("td.empty").textContent()).toBe("No sessions match.");
    expect(await page.getByRole("checkbox").count()).toBe(0);
    expect(await page.getByRole("button", { name: "Delete selected" }).count()).toBe(0);
    expect(await page.getByRole("button", { name: "Delete all expired" }).count()).toBe(1); // two sessions have expired

    await app.sessions.clearExpired();
    await page.goto(`${app.url}${BASE}/`);
    expect(await listedIds(page)).toHaveLength(9);
    expect(await page.getByRole("button", { name: "Delete selected" }).count()).toBe(1);
    expect(await page.getByRole("button", { name: "Delete all expired" }).count()).toBe(0);
  });

  it("fits the table at 1000 px without hiding a column, and scrolls it inside its box on a phone (issue 13, item 20)", async () => {
    const app = await startApp({ pageSize: 50 });
    for (const width of [1000, 820, 390]) {
      const context = await browser.newContext({ viewport: { width, height: 800 }, locale: "en-US" });
      await context.addCookies([{ name: "sessionid", value: app.staffKey, url: app.url }]);
      const page = await context.newPage();
      await page.goto(`${app.url}${BASE}/`);
      const measure = () =>
        page.locator(".table").evaluate((node) => {
          // The test's tsconfig has no DOM types (React's stand-ins are empty); the callback runs in the page.
          const el = node as unknown as ScrollBox;
          return {
            pageOverflow: (() => {
              const root = (el.ownerDocument as unknown as { documentElement: { scrollWidth: number; clientWidth: number } }).documentElement;
              return root.scrollWidth - root.clientWidth;
            })(),
            hidden: el.scrollWidth - el.clientWidth,
            boxRight: el.getBoundingClientRect().right,
            lastRight: (el.querySelector("thead th:last-child") as typeof el).getBoundingClientRect().right,
          };
        });
      const before = await measure();
      expect(before.pageOverflow, `${width} px: the page itself scrolls sideways`).toBe(0);
      if (width >= 820) {
        // Every column is on screen without scrolling: nothing looks cut off.
        expect([before.hidden, before.lastRight <= before.boxRight], `${width} px`).toEqual([0, true]);
      } else {
        // Too narrow to fit: the box scrolls, and scrolled to its end the last column is whole.
        expect(before.hidden, `${width} px`).toBeGreaterThan(0);
        await page.locator(".table").evaluate((node) => {
          const el = node as unknown as ScrollBox;
          el.scrollLeft = el.scrollWidth;
        });
        const after = await measure();
        expect(after.lastRight, `${width} px`).toBeLessThanOrEqual(after.boxRight + 0.5);
      }
      await context.close();
    }
  });
});

describe("admin over plain HTTP", () => {
  /** The staff's CSRF cookie and the token the page's forms carry. */
  async function csrfOf(app: App): Promise<{ cookie: string; token: string }> {
    const response = await fetch(`${app.url}${BASE}/`, { headers: { cookie: cookieFor(app.staffKey) } });
    const setCookie = response.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(/^tessera_admin_csrf=[A-Za-z0-9_-]{43}; Path=\/admin\/sessions; HttpOnly; SameSite=Strict$/);
    const token = /name="csrf" value="([^"]+)"/.exec(await response.text())?.[1] ?? "";
    return { cookie: `${cookieFor(app.staffKey)}; ${setCookie.split(";")[0]}`, token };
  }

  const post = (app: App, path: string, cookie: string, fields: Record<string, string>) =>
    fetch(`${app.url}${BASE}${path}`, {
      method: "POST",
      redirect: "manual",
      headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields).toString(),
    });

  it("refuses a POST without a CSRF token, with a wrong one, or with one minted for another cookie", async () => {
    const app = await startApp();
    const mine = await csrfOf(app);
    const theirs = await csrfOf(app);
    const target = app.seeded[0] as Seeded;
    const attempts: [string, Record<string, string>][] = [
      [mine.cookie, { id: target.id, confirmed: "1" }],
      [mine.cookie, { id: target.id, confirmed: "1", csrf: "" }],
      [mine.cookie, { id: target.id, confirmed: "1", csrf: `${mine.token.slice(0, -1)}${mine.token.endsWith("A") ? "B" : "A"}` }],
      [mine.cookie, { id: target.id, confirmed: "1", csrf: theirs.token }],
      [cookieFor(app.staffKey), { id: target.id, confirmed: "1", csrf: mine.token }], // no CSRF cookie
    ];
    for (const [cookie, fields] of attempts) {
      const response = await post(app, "/delete", cookie, fields);
      expect(response.status).toBe(403);
      expect(response.headers.get("cache-control")).toBe("no-store");
      expect(await response.text()).toContain("This form has expired or came from another site.");
    }
    expect(await app.sessions.open(target.key).get("name")).toBe("Alice");

    const ok = await post(app, "/delete", mine.cookie, { id: target.id, confirmed: "1", csrf: mine.token });
    expect([ok.status, ok.headers.get("location"), ok.headers.get("cache-control")]).toEqual([
      303,
      expect.stringMatching(noticeUrl("notice=deleted&count=1")),
      "no-store",
    ]);
    expect(await app.sessions.open(target.key).get("name")).toBeUndefined();
  });

  it("asks for confirmation before acting, and reports how many expired sessions it deleted", async () => {
    const app = await startApp();
    const { cookie, token } = await csrfOf(app);
    const ask = await post(app, "/clear-expired", cookie, { csrf: token, confirmed: "" });
    expect(ask.status).toBe(200);
    const page = await ask.text();
    expect(page).toContain("<h1>Delete all expired sessions?</h1>");
    expect(page).toContain('<input type="hidden" name="confirmed" value="1">');
    const done = await post(app, "/clear-expired", cookie, { csrf: token, confirmed: "1" });
    expect(done.headers.get("location")).toMatch(noticeUrl("notice=cleared&count=2"));
    const again = await post(app, "/clear-expired", cookie, { csrf: token, confirmed: "1" });
    expect(again.headers.get("location")).toMatch(noticeUrl("notice=cleared&count=0"));
  });

  it("hashes a pasted key and redirects to its id; the key never reaches a URL", async () => {
    const app = await startApp();
    const { cookie, token } = await csrfOf(app);
    const target = app.seeded[4] as Seeded;
    const found = await post(app, "/find", cookie, { csrf: token, key: target.key });
    expect([found.status, found.headers.get("location")]).toEqual([303, `${BASE}/?id=${target.id}`]);
    const list = await fetch(`${app.url}${found.headers.get("location")}`, { headers: { cookie } }).then((r) => r.text());
    expect(list).toContain(`value="${target.id}"`);
    expect(list.match(/name="id" value="[0-9a-f]{64}"/g)).toHaveLength(1);
  });

  it("sends no-store and a strict CSP on every page, and refuses other methods", async () => {
    const app = await startApp();
    const { cookie } = await csrfOf(app);
    for (const path of ["/", `/session/${app.seeded[0]?.id}`, `/session/${"f".repeat(64)}`, "/nowhere"]) {
      const r = await fetch(`${app.url}${BASE}${path}`, { headers: { cookie } });
      expect(r.headers.get("cache-control")).toBe("no-store");
      expect(r.headers.get("content-security-policy")).toMatch(
        /^default-src 'none'; style-src 'nonce-[A-Za-z0-9+/=]+'; script-src 'nonce-[A-Za-z0-9+/=]+'; .*frame-ancestors 'none'/,
      );
      expect(r.headers.get("x-frame-options")).toBe("DENY");
    }
    const put = await fetch(`${app.url}${BASE}/`, { method: "PUT", headers: { cookie } });
    expect([put.status, put.headers.get("allow"), put.headers.get("cache-control")]).toEqual([405, "GET, HEAD, POST", "no-store"]);
  });

  it("mounts in Express behind sessionMiddleware: authorize reads req.session, and a body parser before it is fine", async () => {
    const app = await startApp();
    const admin = createAdmin({
      sessions: app.sessions,
      authorize: async (_request, { node }) => (await (node as RequestWithSession).session.get("staff")) === true,
    });
    const web = express();
    web.use(sessionMiddleware(app.sessions));
    web.use(express.urlencoded({ extended: false }));
    web.use(BASE, toNodeHandler(admin));
    const server = createServer(web);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      // A refused visitor falls through to Express's own 404, exactly as an unknown path does.
      const refused = await fetch(`${url}${BASE}/`, { headers: { cookie: cookieFor(app.visitorKey) } });
      const unknown = await fetch(`${url}/no-such-page`, { headers: { cookie: cookieFor(app.visitorKey) } });
      expect([refused.status, refused.headers.get("content-type"), await refused.text()]).toEqual([
        unknown.status,
        unknown.headers.get("content-type"),
        (await unknown.text()).replace("/no-such-page", `${BASE}/`),
      ]);
      expect(refused.status).toBe(404);
      const { cookie, token } = await csrfOf({ ...app, url });
      const list = await fetch(`${url}${BASE}/?user=bob`, { headers: { cookie } });
      expect(list.status).toBe(200);
      expect((await list.text()).match(/name="id" value="[0-9a-f]{64}"/g)).toHaveLength(2);
      const ended = await post({ ...app, url }, "/end-user", cookie, { csrf: token, confirmed: "1", user: "bob" });
      expect([ended.status, ended.headers.get("location")]).toEqual([303, expect.stringMatching(noticeUrl("notice=ended&count=2&user=bob"))]);
      expect(await app.sessions.listForUser("bob")).toEqual([]);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("runs on the SQLite backend: pages, filters and deletes through SQL", async () => {
    const app = await startApp({ sqlite: true, pageSize: 4 });
    const { cookie, token } = await csrfOf(app);
    const ids = async (query: string) =>
      [...(await fetch(`${app.url}${BASE}/${query}`, { headers: { cookie } }).then((r) => r.text())).matchAll(/name="id" value="([0-9a-f]{64})"/g)].map(
        (m) => m[1],
      );
    const order = newestFirst(app);
    const first = await fetch(`${app.url}${BASE}/`, { headers: { cookie } }).then((r) => r.text());
    const next = /href="\/admin\/sessions\/\?after=([A-Za-z0-9_-]+)"/.exec(first)?.[1] ?? "";
    expect(await ids("")).toEqual(order.slice(0, 4));
    expect(await ids(`?after=${next}`)).toEqual(order.slice(4, 8));
    expect(await ids("?user=alice&state=active")).toEqual(
      app.seeded
        .filter((s) => s.user === "alice")
        .map((s) => s.id)
        .reverse(),
    );
    const done = await post(app, "/delete", cookie, { csrf: token, confirmed: "1", id: order[0] as string });
    expect(done.headers.get("location")).toMatch(noticeUrl("notice=deleted&count=1"));
    expect(await ids("")).toEqual(order.slice(1, 5));
    const cleared = await post(app, "/clear-expired", cookie, { csrf: token, confirmed: "1" });
    expect(cleared.headers.get("location")).toMatch(noticeUrl("notice=cleared&count=2"));
  });

  it("shrugs off hostile query values: unknown filters mean all, a forged cursor is a 400", async () => {
    const app = await startApp();
    const { cookie } = await csrfOf(app);
    const ids = async (query: string) =>
      [...(await fetch(`${app.url}${BASE}/${query}`, { headers: { cookie } }).then((r) => r.text())).matchAll(/name="id" value="([0-9a-f]{64})"/g)].map(
        (m) => m[1],
      );
    const top = newestFirst(app).slice(0, 5);
    for (const query of ["?state=<script>", "?id=../../etc/passwd", "?notice=<b>&count=NaN"]) {
      expect(await ids(query), query).toEqual(top);
    }
    // A broken cursor is a bad request, not a silent jump back to the first page (issue 13, item 16).
    for (const query of ["?after=garbage", "?after=%00%ff", `?after=${"A".repeat(5000)}`, "?after="]) {
      const response = await fetch(`${app.url}${BASE}/${query}`, { headers: { cookie } });
      const text = await response.text();
      expect([response.status, response.headers.get("cache-control"), text.includes("<h1>This page link is not valid.</h1>")], query).toEqual([
        400,
        "no-store",
        true,
      ]);
    }
    const echoed = await fetch(`${app.url}${BASE}/?user=${encodeURIComponent('"><script>alert(1)</script>')}`, { headers: { cookie } }).then((r) => r.text());
    expect(echoed).toContain('value="&#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;"');
    expect(echoed).not.toContain("<script>alert(1)");
  });

  it("shows only the notices its own redirects signed: no 500 on __proto__, no forged counts (issue 13, item 10)", async () => {
    const app = await startApp();
    const mine = await csrfOf(app);
    const theirs = await csrfOf(app);
    const list = (query: string, cookie = mine.cookie) => fetch(`${app.url}${BASE}/${query}`, { headers: { cookie } });
    for (const query of [
      "?notice=__proto__",
      "?notice=constructor",
      "?notice=toString&count=3",
      "?notice=hasOwnProperty",
      "?notice=deleted&count=1000000",
      "?notice=deleted&count=1000000&sig=forged",
      "?notice=none",
    ]) {
      const response = await list(query);
      const text = await response.text();
      expect([response.status, text.includes('role="status"')], query).toEqual([200, false]);
    }
    const done = await post(app, "/clear-expired", mine.cookie, { csrf: mine.token, confirmed: "1" });
    const location = done.headers.get("location") as string;
    expect(await list(location.slice(BASE.length + 1)).then((r) => r.text())).toContain('<div class="notice" role="status">Deleted 2 expired sessions.</div>');
    // The same link is worthless in another browser, and with its count changed.
    expect(await list(location.slice(BASE.length + 1), theirs.cookie).then((r) => r.text())).not.toContain('role="status"');
    expect(await list(location.slice(BASE.length + 1).replace("count=2", "count=2000")).then((r) => r.text())).not.toContain('role="status"');
  });

  it("refuses to exist without authorize", () => {
    const sessions = createSessions({ backend: memoryBackend(), logger: quiet });
    // @ts-expect-error authorize is required
    expect(() => createAdmin({ sessions })).toThrow(ConfigurationError);
    expect(() => createAdmin({ sessions, authorize: undefined as never })).toThrow(/needs an authorize\(request\) function/);
  });

  it('mounts at the root too: basePath "/" scopes its CSRF cookie to /', async () => {
    const { sessions } = await startApp();
    const admin = createAdmin({ sessions, authorize: () => true, basePath: "/" });
    const response = await admin(new Request("http://localhost/"));
    expect(response.status).toBe(200);
    expect(response.headers.get("set-cookie")).toMatch(/^tessera_admin_csrf=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict$/);
    expect((await admin(new Request(`http://localhost/session/${"0".repeat(64)}`))).status).toBe(404);
    expect(() => createAdmin({ sessions, authorize: () => true, basePath: "admin" })).toThrow('createAdmin basePath must start with "/" (it is "admin").');
    for (const backLink of [
      { href: "javascript:alert(1)", label: "Back" },
      { href: "//evil.example", label: "Back" },
      { href: "/", label: "" },
    ]) {
      expect(() => createAdmin({ sessions, authorize: () => true, backLink })).toThrow("createAdmin backLink must be { href, label }");
    }
    const linked = createAdmin({ sessions, authorize: () => true, basePath: "/", backLink: { href: "/home", label: "Back <home>" } });
    expect(await (await linked(new Request("http://localhost/"))).text()).toContain('<a class="back" href="/home">Back &#60;home&#62;</a>');
  });

  it("says so for a backend that cannot list sessions", async () => {
    const sessions = createSessions({ backend: signedCookieBackend(), secret: SECRET, logger: quiet });
    const admin = createAdmin({ sessions, authorize: () => true });
    const response = await admin(new Request("http://localhost/admin/sessions/"));
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const text = await response.text();
    expect(text).toContain(
      '<div class="notice warn">The signed-cookies backend keeps sessions in the visitors&#39; cookies, so the server has none. Use the database, file, Redis or memory backend to list sessions.</div>',
    );
    expect((await admin(new Request("http://localhost/elsewhere"))).status).toBe(404);
  });
});
