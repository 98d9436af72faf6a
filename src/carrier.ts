/**
 * `sessions.of(req)`: the session an adapter put on a framework's request or context, typed by
 * the app's own `createSessions<Data>()` rather than by a global declaration.
 * @module
 */
import { ConfigurationError } from "./errors.js";
import type { ResolvedOptions } from "./options.js";
import { openedBy, Session } from "./session.js";

/**
 * What `sessions.of` accepts: anything an adapter hangs the session on (Express, node:http and
 * Fastify requests, Koa's `ctx`: a `session` property; Hono's `c`: its `session` variable), or
 * the session itself (the fetch adapter hands it to the handler).
 */
export type SessionCarrier = object;

/** @internal The carrier's session, checked to come from the `createSessions` whose options are `owner`. */
export function sessionOf<Data extends object>(owner: ResolvedOptions, carrier: SessionCarrier): Session<Data> {
  const found = findSession(carrier);
  if (!(found instanceof Session)) {
    throw new ConfigurationError(
      "sessions.of() found no session on this request. Register the adapter first (Express: app.use(sessionMiddleware(sessions)); Koa and Hono: app.use(sessionMiddleware(sessions)); Fastify: app.register(tesseraSessions, { sessions })), and pass the request (Express, node:http, Fastify), ctx (Koa) or c (Hono).",
    );
  }
  if (found[openedBy]() !== owner) {
    throw new ConfigurationError(
      "sessions.of() was given a request whose session comes from another createSessions() object. Call of() on the object the adapter was given.",
    );
  }
  return found as Session<Data>;
}

function findSession(carrier: SessionCarrier): unknown {
  if (carrier instanceof Session) return carrier;
  if (typeof carrier !== "object" || carrier === null) return undefined;
  const direct = (carrier as { session?: unknown }).session;
  if (direct !== undefined && direct !== null) return direct;
  // Hono's Context keeps middleware variables behind c.get(name) (and c.var).
  const get = (carrier as { get?: unknown }).get;
  return typeof get === "function" && "var" in carrier ? (get as (name: string) => unknown).call(carrier, "session") : undefined;
}
