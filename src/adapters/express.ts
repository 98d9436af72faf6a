/**
 * The Express adapter: `app.use(sessionMiddleware(sessions))` gives every request `req.session`,
 * committed before the response's headers go out (also for `res.redirect()` and streams).
 * Commit errors (interrupted session: status 400; store outage: 503) go to `next(err)`.
 * @module
 */
import type { NextFunction, Request, RequestHandler, Response } from "express";
import type { Sessions } from "../manager.js";
import type { RequestSessionData, Session } from "../session.js";
import { attachSession } from "./node.js";

declare global {
  // Express's documented way to type request properties added by middleware.
  // eslint-disable-next-line @typescript-eslint/no-namespace
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
    (req as unknown as { session: Session<Data> }).session = attachSession(sessions, req, res, (error) => next(error));
    next();
  };
}
