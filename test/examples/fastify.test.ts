import { expect, it } from "vitest";
import { createShop } from "../../examples/fastify/app.js";
import { useChromium } from "../browser.js";
import { browseShop, shopSessions } from "./shop-browser.js";
import { driveShop } from "./shop-scenario.js";

/** The Fastify shop on a loopback port (Fastify listens itself) for `use`, then closed. */
async function onFastifyShop(use: (url: string) => Promise<void>): Promise<void> {
  const app = await createShop(shopSessions());
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  try {
    await use(url);
  } finally {
    await app.close();
  }
  expect(app.server.listening).toBe(false);
}

it("the Fastify example: login -> cart -> logout over real HTTP, every POST checked for its CSRF token", () => onFastifyShop(driveShop));

const chromium = useChromium();
it("the Fastify example in Chromium on a 390 px phone: login -> cart -> reload -> logout", () => onFastifyShop((url) => browseShop(chromium, url)));
