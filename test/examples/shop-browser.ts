/**
 * Drives an example shop in headless Chromium as a phone (390 px, its viewport meta honoured):
 * log in, fill the cart, reload, log out, through the page's labelled fields and buttons, with
 * nothing wider than the screen.
 */
import type { RequestListener } from "node:http";
import { expect, it } from "vitest";
import { createSessions, type Sessions } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { shopSecret, type ShopSession } from "../../examples/shared/shop.js";
import { useChromium, type Chromium } from "../browser.js";
import { driveShop, onLoopback } from "./shop-scenario.js";

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 3 };

export async function browseShop(chromium: Chromium, url: string): Promise<void> {
  const context = await chromium.newContext(PHONE);
  const page = await context.newPage();
  const sessionCookie = async () => (await context.cookies()).find((cookie) => cookie.name === "sessionid");
  const fitsThePhone = async () => expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(PHONE.viewport.width);

  expect((await page.goto(url))?.status()).toBe(200);
  expect(await page.evaluate("document.documentElement.lang")).toBe("en");
  await fitsThePhone();
  expect(await sessionCookie()).toBeUndefined(); // a first visit stores no session

  await page.getByLabel("Username").fill("ann <admin>");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect.poll(() => page.getByText("Signed in as ann <admin>").count()).toBe(1);
  const cookie = await sessionCookie();
  expect(cookie?.value).toMatch(/^[a-z0-9]{32}$/);
  expect(cookie).toMatchObject({ path: "/", httpOnly: true, secure: false, sameSite: "Lax" });

  await page.getByLabel("Item").fill("apple");
  await page.getByRole("button", { name: "Add to cart" }).click();
  await expect.poll(() => page.getByRole("listitem").allTextContents()).toEqual(["apple"]);
  await page.reload();
  expect(await page.getByRole("listitem").allTextContents()).toEqual(["apple"]);
  expect((await sessionCookie())?.value).toBe(cookie?.value); // the same session
  await fitsThePhone();

  await page.getByRole("button", { name: "Log out" }).click();
  await expect.poll(() => page.getByLabel("Username").count()).toBe(1);
  expect(await page.getByRole("listitem").count()).toBe(0);
  expect(await sessionCookie()).toBeUndefined();
}

/** A shop's sessions for a test: a fresh memory store, plain-http cookies, the shops' secret. */
export const shopSessions = (): Sessions<ShopSession> =>
  createSessions<ShopSession>({ backend: memoryBackend(), cookie: { secure: false }, secret: shopSecret() });

/**
 * The shop example of `framework`, its listener built by `listenerOf` over a memory store: driven
 * over real HTTP (every step's cookies and CSRF checks), then in Chromium as a phone.
 */
export function describeShopExample(framework: string, listenerOf: (sessions: Sessions<ShopSession>) => RequestListener): void {
  const newListener = () => listenerOf(shopSessions());
  it(`the ${framework} example: login -> cart -> logout over real HTTP, every POST checked for its CSRF token`, () => onLoopback(newListener(), driveShop));
  const chromium = useChromium();
  it(`the ${framework} example in Chromium on a 390 px phone: login -> cart -> reload -> logout`, () =>
    onLoopback(newListener(), (url) => browseShop(chromium, url)));
}
