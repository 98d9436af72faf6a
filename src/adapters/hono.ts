/**
 * The Hono adapter: `app.use(sessionMiddleware(sessions))` makes `c.get("session")` (and
 * `c.var.session`) the visitor's session, committed on `c.res` once the handler has answered.
 * Runs wherever Hono runs: @hono/node-server, Bun, Deno, or a bare `app.fetch(request)`.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { varyWithCookie } from "../cookie.js";
import { SessionError } from "../errors.js";
import type { CommitResult, Sessions } from "../manager.js";
import type { RequestSessionData, Session } from "../session.js";

declare module "hono" {
  // Hono's documented way to type context variables set by middleware.
  interface ContextVariableMap {
    /** The visitor's session (set by Tessera's `sessionMiddleware`). */
    session: Session<RequestSessionData>;
  }
}

/**
 * Hono middleware that sets the `session` variable and saves it after the handler answered,
 * with the status of `c.res`. A failed commit throws an `HTTPException` carrying the error's
 * status (400 interrupted, 503 store down) and the error as `cause`, for `app.onError`.
 *
 * @example
 * const app = new Hono();
 * app.use(sessionMiddleware(sessions));
 * app.get("/", async (c) => {
 *   const visits = ((await c.var.session.get("visits")) ?? 0) + 1;
 *   await c.var.session.set("visits", visits);
 *   return c.text(`visit ${visits}`);
 * });
 */
export function sessionMiddleware<Data extends object = RequestSessionData>(
  sessions: Sessions<Data>,
): MiddlewareHandler<{ Variables: { session: Session<Data> } }> {
  return async (c, next) => {
    const session = sessions.openFromHeader(c.req.header("Cookie"));
    c.set("session", session);
    // A handler's exception has already become c.res (through app.onError) when next() returns.
    await next();
    let result: CommitResult;
    try {
      result = await sessions.commit(session, c.res.status);
    } catch (error) {
      // Nothing the handler prepared (a redirect's Location...) may leak into the error answer.
      for (const name of new Set(c.res.headers.keys())) c.header(name, undefined);
      await c.res.body?.cancel().catch(() => {});
      const status = error instanceof SessionError ? error.status : 500;
      throw new HTTPException(status as ContentfulStatusCode, {
        message: status === 400 ? "Bad Request: session interrupted" : status === 503 ? "Service Unavailable" : "Internal Server Error",
        cause: error,
      });
    }
    // c.header() copies a finished Response first, so immutable headers (Response.redirect()) are fine.
    if (result.varyCookie) c.header("Vary", varyWithCookie(c.res.headers.get("Vary") ?? undefined));
    if (result.setCookie !== undefined) c.header("Set-Cookie", result.setCookie, { append: true });
  };
}
