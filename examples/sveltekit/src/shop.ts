/**
 * The shop's sessions and request handling, shared by the hook and the routes.
 * @module
 */
import { createSessions, type Session } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { shopSecret, type ShopSession } from "../../shared/shop.js";
import { webShop } from "../../shared/web-shop.js";

export { backToShop } from "../../shared/web-shop.js";

export const sessions = createSessions<ShopSession>({
  backend: memoryBackend(), // or databaseBackend({ url: "sqlite:sessions.sqlite3" }) from "tessera-sessions/backends/db"
  cookie: { secure: false }, // plain http on localhost: a Secure cookie would never be sent back
  secret: shopSecret(),
});

export const shop = webShop(sessions);

/** `locals.session` (the hook set it), typed as this shop's. */
export const sessionOf = (locals: App.Locals): Session<ShopSession> => sessions.of(locals);
