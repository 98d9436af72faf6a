/**
 * The shop's sessions and request handling, shared by the session middleware and the routes.
 * @module
 */
import { createSessions, type Session } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import type { NodeBackedEvent } from "tessera-sessions/nuxt";
import { shopSecret, type ShopSession } from "../../shared/shop";
import { webShop } from "../../shared/web-shop";

export { backToShop } from "../../shared/web-shop";

export const sessions = createSessions<ShopSession>({
  backend: memoryBackend(), // or databaseBackend({ url: "sqlite:sessions.sqlite3" }) from "tessera-sessions/backends/db"
  cookie: { secure: false }, // plain http on localhost: a Secure cookie would never be sent back
  secret: shopSecret(),
});

export const shop = webShop(sessions);

/** `event.context.session` (server/middleware/session.ts set it), typed as this shop's. */
export const sessionOf = (event: NodeBackedEvent): Session<ShopSession> => sessions.of(event.context);
