import { toNodeHandler } from "h3";
import { it } from "vitest";
import { createSessions } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { createShop, type ShopSession } from "../../examples/h3/app.js";
import { shopSecret } from "../../examples/shared/shop.js";
import { driveShopListener } from "./shop-scenario.js";

it("the h3 example: login -> cart -> logout over real HTTP, every POST checked for its CSRF token", async () => {
  const sessions = createSessions<ShopSession>({ backend: memoryBackend(), cookie: { secure: false }, secret: shopSecret() });
  await driveShopListener(toNodeHandler(createShop(sessions)));
});
