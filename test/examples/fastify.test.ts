import { expect, it } from "vitest";
import { createSessions } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { createShop, type ShopSession } from "../../examples/fastify/app.js";
import { shopSecret } from "../../examples/shared/shop.js";
import { useChromium } from "../browser.js";
import { browseShop } from "./shop-browser.js";
import { driveShop } from "./shop-scenario.js";

/** The Fastify shop on a loopback port (Fastify listens itself) for `use`, then closed. */
async function onFastifyShop(use: (url: string) => Promise<void>): Promise<void> {
  const sessions = createSessions<ShopSession>({ backend: memoryBackend(), cookie: { secure: false }, secret: shopSecret() });
  const app = await createShop(sessions);
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
