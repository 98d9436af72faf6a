/**
 * The Express adapter: `app.use(sessionMiddleware(sessions))` gives every request `req.session`,
 * committed before the response's headers go out (also for `res.redirect()` and streams).
 * Commit errors (interrupted session: status 400; store outage: 503) go to `next(err)`.
 * @module
 */
import { IncomingMessage } from "node:http";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import type { Sessions } from "../manager.js";
import type { RequestSessionData, Session } from "../session.js";
import { attachSessionShared, prototypeAbove } from "./shared-prototype.js";

declare global {
  // Express's documented way to type request properties added by middleware.
  namespace Express {
    interface Request {
      /** The visitor's session (set by Tessera's `sessionMiddleware`). */
      session: Session<RequestSessionData>;
    }
  }
}

/** Express middleware that sets `req.session` and saves it when the response is sent. */
export function sessionMiddleware<Data extends object = RequestSessionData>(sessions: Sessions<Data>): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    setSession(req, attachSessionShared(sessions, req, res, next));
    next();
  };
}

// `req.session` without adding a property to `req` (see attachSessionShared for why): a getter
// on Express's shared request prototype reads it from this map.
const SESSIONS = new WeakMap<IncomingMessage, unknown>();
const sessionAccessor: PropertyDescriptor = {
  configurable: true,
  get(this: IncomingMessage) {
    return SESSIONS.get(this);
  },
  // Another middleware assigning req.session gets an ordinary property, as before.
  set(this: IncomingMessage, value: unknown) {
    Object.defineProperty(this, "session", { value, writable: true, configurable: true, enumerable: true });
  },
};

/**
 * The request prototypes (Express's per-app `app.request`) through which a request was seen to
 * reach the getter. Express gives every request a hidden class of its own, so each named property
 * read on `req` misses V8's caches (about 0.2 µs); `Object.hasOwn` and this set do not.
 */
const REACHES_GETTER = new WeakSet<object>();

function setSession(req: IncomingMessage, session: unknown): void {
  SESSIONS.set(req, session);
  const proto = Object.getPrototypeOf(req) as object;
  if (REACHES_GETTER.has(proto) && !Object.hasOwn(req, "session")) return;
  if ((req as { session?: unknown }).session === session) {
    REACHES_GETTER.add(proto);
    return;
  }
  // First request (or an own `session` in the way): put the getter on the prototype just above
  // http.IncomingMessage's, where every Express request of every app finds it.
  const base = prototypeAbove(req, IncomingMessage.prototype);
  if (base !== undefined && !Object.hasOwn(base, "session")) Object.defineProperty(base, "session", sessionAccessor);
  if ((req as { session?: unknown }).session !== session) (req as { session?: unknown }).session = session;
}
