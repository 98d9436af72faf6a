import { expect, it } from "vitest";
import { createSessions } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { createShop, type ShopSession } from "../../examples/fastify/app.js";
import { shopSecret } from "../../examples/shared/shop.js";
import { driveShop } from "./shop-scenario.js";

it("the Fastify example: login -> cart -> logout over real HTTP, every POST checked for its CSRF token", async () => {
  const sessions = createSessions<ShopSession>({ backend: memoryBackend(), cookie: { secure: false }, secret: shopSecret() });
  const app = await createShop(sessions);
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  try {
    await driveShop(url);
  } finally {
    await app.close();
  }
  expect(app.server.listening).toBe(false);
});
