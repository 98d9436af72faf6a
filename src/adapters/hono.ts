/**
 * The Hono adapter: `app.use(sessionMiddleware(sessions))` makes `c.get("session")` (and
 * `c.var.session`) the visitor's session, committed on `c.res` once the handler has answered.
 * Runs wherever Hono runs: @hono/node-server, Bun, Deno, or a bare `app.fetch(request)`.
 *
 * A session error raised inside a handler (the store down while loading: `BackendError`,
 * `status` 503) reaches `app.onError` like any other error, and Hono's default answers 500.
 * To answer with its status, as Express and Koa do by default:
 *
 * ```ts
 * app.onError((error, c) =>
 *   error instanceof HTTPException ? error.getResponse()
 *   : error instanceof SessionError ? c.text(error.code, error.status as ContentfulStatusCode)
 *   : c.text("Internal Server Error", 500));
 * ```
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { CommitResult, Sessions } from "../manager.js";
import type { RequestSessionData, Session } from "../session.js";
import { applyCommit, commitNowOrLater, discardPrepared, failureStatus, failureText, fetchHeaders, type ResponseHeaders } from "./shared.js";

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
    // Through c.header(), which copies a Response whose headers are immutable first (Response.redirect(), a fetch() result).
    const viaContext: ResponseHeaders = {
      get: (name) => c.res.headers.get(name),
      names: () => new Set(c.res.headers.keys()),
      set: (name, value) => c.header(name, value),
      append: (name, value) => c.header(name, value, { append: true }),
      remove: (name) => c.header(name, undefined),
    };
    let result: CommitResult;
    try {
      const committed = commitNowOrLater(sessions, session, c.res.status);
      result = committed instanceof Promise ? await committed : committed;
    } catch (error) {
      discardPrepared(viaContext);
      await c.res.body?.cancel().catch(() => {});
      // app.onError receives it (and logs it, if the app does).
      const status = failureStatus(error);
      throw new HTTPException(status as ContentfulStatusCode, { message: failureText(status), cause: error });
    }
    try {
      // In place: rebuilding the Response would cost @hono/node-server its fast path.
      applyCommit(fetchHeaders(c.res.headers), result);
    } catch {
      applyCommit(viaContext, result);
    }
  };
}
