import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { expect, it } from "vitest";
import { createSessions } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { createShop, type ShopSession } from "../../examples/node/app.js";
import { driveShop } from "./shop-scenario.js";

it("the node:http example: login -> cart -> logout over real HTTP", async () => {
  const sessions = createSessions<ShopSession>({ backend: memoryBackend(), cookie: { secure: false } });
  const server = createServer(createShop(sessions));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    await driveShop(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  expect(server.listening).toBe(false);
});
