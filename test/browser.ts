/**
 * Headless Chromium for the browser tests: Debian's /usr/bin/chromium through playwright-core,
 * one browser per test file, and every context a test opened closed after it.
 */
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll } from "vitest";

/** The browser of {@link useChromium}. */
export interface Chromium {
  /** A new context (a separate cookie jar), closed after the test. */
  newContext(options?: BrowserContextOptions): Promise<BrowserContext>;
}

/**
 * Launches Chromium before the tests of the enclosing suite and closes it after them. Call it
 * after registering any `afterEach` that must run once the test's contexts are closed (vitest
 * runs after-hooks last registered first), e.g. one that stops the server the pages talk to.
 */
export function useChromium(): Chromium {
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()));
  });
  return {
    async newContext(options = {}) {
      if (browser === undefined) throw new Error("Chromium is not running (did it fail to launch?)");
      const context = await browser.newContext(options);
      contexts.push(context);
      return context;
    },
  };
}

/** The full ids of the rows the session admin lists, in order (from the checkboxes). */
export const listedIds = (page: Page) =>
  page.locator("tbody input[name=id]").evaluateAll((boxes) => boxes.map((b) => (b as unknown as { value: string }).value));
