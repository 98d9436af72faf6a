/**
 * The h3 v2 adapter (h3 is Nuxt's and Nitro's server): `app.use(sessionMiddleware(sessions))`
 * makes `event.context.session` the visitor's session, committed on the handler's Response.
 * In Nuxt, register it in a server middleware file (`server/middleware/session.ts`).
 *
 * A session failure becomes an `HTTPError` with the error's status (the store down: 503; the
 * session deleted during the request: 400) and the error as `cause`, for h3's `onError`.
 * @module
 */
import { HTTPError, toResponse, type ErrorDetails, type H3Event, type Middleware } from "h3";
import { SessionError } from "../errors.js";
import type { Sessions } from "../manager.js";
import type { RequestSessionData, Session } from "../session.js";
import { failureStatus, failureText } from "./shared.js";
import { commitOnResponse } from "./web.js";

declare module "h3" {
  // h3's documented way to type what middleware adds to `event.context`.
  interface H3EventContext {
    /** The visitor's session (set by Tessera's `sessionMiddleware`). */
    session?: Session<RequestSessionData>;
  }
}

/**
 * h3 middleware that sets `event.context.session` and saves the session once the handler has
 * answered, with the status of its Response (an exception's too: a 500 saves nothing).
 *
 * @example
 * const app = new H3();
 * app.use(sessionMiddleware(sessions));
 * app.get("/", async (event) => {
 *   const session = event.context.session!;
 *   const visits = ((await session.get("visits")) ?? 0) + 1;
 *   await session.set("visits", visits);
 *   return `visit ${visits}`;
 * });
 */
export function sessionMiddleware<Data extends object = RequestSessionData>(sessions: Sessions<Data>): Middleware {
  return async (event, next) => {
    const session = sessions.openFromHeader(event.req.headers.get("cookie") ?? undefined);
    event.context.session = session as unknown as Session<RequestSessionData>;
    let answer: unknown;
    try {
      answer = await next();
    } catch (error) {
      // The Response h3 would build for the error (through the app's onError), so the session
      // is committed with its status like any other: a 500 saves nothing but still varies.
      answer = error instanceof SessionError ? toHTTPError(error) : error;
    }
    const response = await toResponse(answer, event as H3Event, event.app?.config);
    try {
      return await commitOnResponse(sessions, session, response);
    } catch (error) {
      throw toHTTPError(error);
    }
  };
}

/** A session failure as h3's HTTPError: its status, a short message, the error as `cause`. */
function toHTTPError(error: unknown): HTTPError {
  const status = failureStatus(error);
  // h3 keeps its details object as `cause` and reads `status` from it: a SessionError is both.
  return new HTTPError(failureText(status), error instanceof SessionError ? (error as ErrorDetails) : { status, cause: error });
}
