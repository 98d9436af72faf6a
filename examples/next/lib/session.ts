/**
 * The shop's sessions, for every kind of server code: `getSession` (Server Components, read-only),
 * `withSession` (Server Actions), `route` (route handlers and proxy.ts).
 */
import { createSessions } from "tessera-sessions";
import { databaseBackend } from "tessera-sessions/backends/db";
import { nextSessions } from "tessera-sessions/next";

/** What the shop keeps in a session. */
export interface ShopSession {
  username?: string;
  cart?: string[];
  /** Counted by the Pages Router routes (pages/). */
  visits?: number;
}

export const sessions = createSessions<ShopSession>({
  // A SQLite file in the working directory, or the database SESSION_DATABASE_URL names
  // (sqlite:<file>, postgres://…, mysql://…).
  backend: databaseBackend({ url: process.env["SESSION_DATABASE_URL"] ?? "sqlite:sessions.sqlite3" }),
  cookie: { secure: false }, // plain http on localhost: a Secure cookie would never be sent back
});

export const { getSession, withSession, route } = nextSessions(sessions);

/** A form field or JSON string, trimmed and capped, or `undefined` when empty. */
export function text(value: unknown, maxLength: number): string | undefined {
  if (typeof value !== "string") return undefined;
  const trimmed = value.trim().slice(0, maxLength);
  return trimmed === "" ? undefined : trimmed;
}
