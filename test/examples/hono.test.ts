import { getRequestListener } from "@hono/node-server";
import { it } from "vitest";
import { createSessions } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { createShop, type ShopSession } from "../../examples/hono/app.js";
import { driveShopListener } from "./shop-scenario.js";

it("the Hono example: login -> cart -> logout over real HTTP", async () => {
  const sessions = createSessions<ShopSession>({ backend: memoryBackend(), cookie: { secure: false } });
  await driveShopListener(getRequestListener(createShop(sessions).fetch));
});
