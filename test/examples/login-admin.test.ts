/**
 * The session admin in the login demo, in real headless Chromium: staff log in and manage the
 * sessions of a visitor browsing in another browser context; the visitor's next request shows
 * the effect. Non-staff get 404.
 */
import { mkdtempSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { hashKey } from "tessera-sessions";
import { listedIds, useChromium } from "../browser.js";
import { createApp, DEMO_PASSWORD, DEMO_USERNAME, STAFF_PASSWORD, STAFF_USERNAME } from "../../examples/login/app.js";

// Every login runs scrypt, and Chromium shares two cores with other suites.
vi.setConfig({ testTimeout: 90_000 });

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
const ADMIN = "/admin/sessions";

describe("login demo: the session admin", () => {
  let dir: string;
  let server: Server | undefined;
  let close: (() => Promise<void>) | undefined;

  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await close?.();
    rmSync(dir, { recursive: true, force: true });
  });
  // Registered second, so its afterEach closes the browser contexts before the one above runs.
  const browser = useChromium();

  async function start() {
    dir = mkdtempSync(join(tmpdir(), "tessera-demo-admin-"));
    const clock = { now: T0 };
    const { app, sessions } = createApp({ databaseUrl: `sqlite:${join(dir, "sessions.sqlite3")}`, clock: () => clock.now });
    close = () => sessions.close();
    server = app.listen(0, "127.0.0.1");
    await new Promise<void>((resolve) => server?.once("listening", () => resolve()));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, clock, sessions };
  }

  async function loggedIn(url: string, username: string, password: string, userAgent?: string, viewport?: { width: number; height: number }): Promise<Page> {
    const context = await browser.newContext({ ...(userAgent === undefined ? {} : { userAgent }), ...(viewport === undefined ? {} : { viewport }) });
    const page = await context.newPage();
    await page.goto(`${url}/login`);
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL(`${url}/dashboard`);
    return page;
  }

  const sessionKeyOf = async (page: Page) => (await page.context().cookies()).find((c) => c.name === "sessionid")?.value as string;

  it("staff find a visitor's session by user, read it, and delete it; the visitor is logged out", async () => {
    const { url, clock } = await start();
    const visitor = await loggedIn(url, DEMO_USERNAME, DEMO_PASSWORD);
    await visitor.goto(`${url}/cart`);
    await visitor.locator("tr", { hasText: "Stoneware mug" }).getByRole("button", { name: "Add" }).click();
    await visitor.waitForURL(`${url}/cart`);
    const visitorId = hashKey(await sessionKeyOf(visitor));

    // The visitor is not staff: no link to the admin, and the admin does not exist for them.
    expect(await visitor.getByRole("link", { name: "Session admin" }).count()).toBe(0);
    expect((await visitor.goto(`${url}${ADMIN}`))?.status()).toBe(404);

    clock.now += 60_000; // the staff session is the newer one
    const staff = await loggedIn(url, STAFF_USERNAME, STAFF_PASSWORD);
    staff.on("dialog", (d) => void d.accept());
    expect(await staff.getByRole("link", { name: "Session admin" }).getAttribute("href")).toBe(ADMIN); // staff find it from every page
    const list = await staff.goto(`${url}${ADMIN}`);
    expect(await staff.getByRole("link", { name: "Back to the demo" }).getAttribute("href")).toBe("/dashboard"); // and a way back
    expect([list?.status(), list?.headers()["cache-control"]]).toEqual([200, "no-store"]);
    expect(await listedIds(staff)).toEqual([hashKey(await sessionKeyOf(staff)), visitorId]);
    const html = (await list?.text()) ?? "";
    expect(html).not.toContain(await sessionKeyOf(visitor));
    expect(html).not.toContain(await sessionKeyOf(staff));

    await staff.getByLabel("User id").fill(DEMO_USERNAME);
    await staff.getByRole("button", { name: "Filter" }).click();
    expect(await listedIds(staff)).toEqual([visitorId]);
    await staff.getByRole("link", { name: `${visitorId.slice(0, 12)}…` }).click();
    const data = JSON.parse((await staff.locator("pre").textContent()) ?? "") as Record<string, unknown>;
    expect([data["username"], data["cart"]]).toEqual([DEMO_USERNAME, { mug: 1 }]);

    await staff.getByRole("button", { name: "Delete this session" }).click();
    await staff.waitForURL(/notice=deleted/);
    expect(await staff.getByRole("status").textContent()).toBe("Deleted 1 session.");

    await visitor.goto(`${url}/dashboard`);
    expect(visitor.url()).toBe(`${url}/login`);
  });

  it("a user sees where they are signed in, and signs out one device or all the others", async () => {
    const { url, clock } = await start();
    const laptop = await loggedIn(url, DEMO_USERNAME, DEMO_PASSWORD, "Laptop Browser/1.0");
    clock.now += 60_000;
    const phone = await loggedIn(url, DEMO_USERNAME, DEMO_PASSWORD, "Phone Browser/2.0");
    await phone.getByRole("link", { name: "your sessions" }).click();
    expect(phone.url()).toBe(`${url}/account/sessions`);
    const rows = phone.locator("table tr").filter({ has: phone.locator("td") });
    expect(await rows.evaluateAll((trs) => trs.map((tr) => (tr as unknown as { innerText: string }).innerText.split("\n")[0]))).toEqual([
      "Phone Browser/2.0",
      "Laptop Browser/1.0",
    ]);
    expect(await rows.nth(0).locator("td").last().textContent()).toBe("This browser");
    expect(await rows.nth(0).locator("small").textContent()).toBe("127.0.0.1 · signed in 1 Jan 2030, 12:01 UTC");
    expect(await rows.nth(0).locator("td").nth(1).textContent()).toBe("1 Jan 2030, 12:01 UTC");

    await rows.nth(1).getByRole("button", { name: "Sign out" }).click();
    await phone.waitForURL(`${url}/account/sessions`);
    expect(await rows.count()).toBe(1);
    await laptop.goto(`${url}/dashboard`);
    expect(laptop.url()).toBe(`${url}/login`);

    // Signed in again on the laptop, then "everywhere else" from the phone.
    const again = await loggedIn(url, DEMO_USERNAME, DEMO_PASSWORD, "Laptop Browser/1.0");
    await phone.reload();
    expect(await rows.count()).toBe(2);
    await phone.getByRole("button", { name: "Sign out everywhere else" }).click();
    await phone.waitForURL(`${url}/account/sessions`);
    expect(await rows.count()).toBe(1);
    expect(await phone.getByRole("button", { name: "Sign out everywhere else" }).count()).toBe(0);
    await again.goto(`${url}/dashboard`);
    expect(again.url()).toBe(`${url}/login`);
    await phone.goto(`${url}/dashboard`);
    expect(phone.url()).toBe(`${url}/dashboard`);
  });

  it("'Your sessions' names devices as people do and fits a 390 px wide phone", async () => {
    const { url } = await start();
    const desktop = await loggedIn(
      url,
      DEMO_USERNAME,
      DEMO_PASSWORD,
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    );
    await desktop.close();
    const iPhone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
    const phone = await loggedIn(url, DEMO_USERNAME, DEMO_PASSWORD, iPhone, { width: 390, height: 844 });
    await phone.goto(`${url}/account/sessions`);
    const devices = await phone.locator("table td:first-child > span").allTextContents();
    expect(devices.sort()).toEqual(["Chrome on Windows", "Safari on iOS"]);
    expect(await phone.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
  });

  it("staff end every session of a user and delete expired ones, from another browser", async () => {
    const { url, clock } = await start();
    const [laptop, phone] = [await loggedIn(url, DEMO_USERNAME, DEMO_PASSWORD), await loggedIn(url, DEMO_USERNAME, DEMO_PASSWORD)];
    const staff = await loggedIn(url, STAFF_USERNAME, STAFF_PASSWORD);
    staff.on("dialog", (d) => void d.accept());
    await staff.goto(`${url}${ADMIN}/?user=${DEMO_USERNAME}`);
    expect(await listedIds(staff)).toHaveLength(2);
    await staff.getByRole("button", { name: `End all sessions of user ${DEMO_USERNAME}` }).click();
    await staff.waitForURL(/notice=ended/);
    expect(await staff.getByRole("status").textContent()).toBe(`Ended 2 sessions of user ${DEMO_USERNAME}.`);
    for (const page of [laptop, phone]) {
      await page.goto(`${url}/dashboard`);
      expect(page.url()).toBe(`${url}/login`);
    }

    // A visitor who chose a five-minute session, ten minutes later: expired, and cleared by staff.
    const brief = await loggedIn(url, DEMO_USERNAME, DEMO_PASSWORD);
    await brief.goto(`${url}/session`);
    await brief.getByLabel("Change the expiry").selectOption("5m");
    await brief.getByRole("button", { name: "Apply" }).click();
    await brief.waitForURL(`${url}/session`);
    clock.now += 10 * 60_000;
    await staff.goto(`${url}${ADMIN}/?state=expired`);
    expect(await listedIds(staff)).toEqual([hashKey(await sessionKeyOf(brief))]);
    await staff.getByRole("button", { name: "Delete all expired" }).click();
    await staff.waitForURL(/notice=cleared/);
    expect(await staff.getByRole("status").textContent()).toBe("Deleted 1 expired session.");
    await staff.screenshot({ path: "/tmp/demo-admin.png", fullPage: true });
  });
});
