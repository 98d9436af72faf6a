/**
 * The Koa adapter: `app.use(sessionMiddleware(sessions))` gives every request `ctx.session`,
 * committed once the downstream middleware has finished, with the status Koa is about to send.
 * Commit errors are thrown, so Koa's error handling answers with their `status` (400 for an
 * interrupted session, 503 when the store is down).
 * @module
 */
import { STATUS_CODES } from "node:http";
import type { DefaultState, Middleware } from "koa";
import type { Sessions } from "../manager.js";
import type { RequestSessionData, Session } from "../session.js";
import { applyCommit, commitNowOrLater, type ResponseHeaders } from "./shared.js";

declare module "koa" {
  // Koa's documented way to type what middleware adds to the context.
  interface DefaultContext {
    /** The visitor's session (set by Tessera's `sessionMiddleware`). */
    session: Session<RequestSessionData>;
  }
}

/**
 * Koa middleware that sets `ctx.session` and saves it after the downstream middleware ran.
 * Register it first (before the routes), so it sees the final status and body. `ctx.session`
 * is typed by `AppSessionData` (see `tessera-sessions`), or by the app's own context type:
 * `new Koa<DefaultState, { session: Session<MyData> }>()`. A response written past Koa
 * (`ctx.respond = false`, writes to `ctx.res`) leaves before the commit, so it gets no cookie.
 *
 * @example
 * const app = new Koa();
 * app.use(sessionMiddleware(sessions));
 * app.use(async (ctx) => {
 *   const visits = ((await ctx.session.get("visits")) ?? 0) + 1;
 *   await ctx.session.set("visits", visits);
 *   ctx.body = `visit ${visits}`;
 * });
 */
export function sessionMiddleware<Data extends object = RequestSessionData>(sessions: Sessions<Data>): Middleware<DefaultState, { session: Session<Data> }> {
  return async (ctx, next) => {
    const session = sessions.openFromHeader(ctx.headers.cookie);
    ctx.session = session;
    try {
      await next();
    } catch (error) {
      // Django answers an exception with a response and still commits on it: a 4xx saves the
      // session. Koa clears every header before answering an error but keeps `err.headers`.
      if (error instanceof Error) applyCommit(errorHeaders(error), await sessions.commit(session, statusOf(error)));
      throw error;
    }
    // `ctx.status` is what Koa sends: 404 if nothing set a body, 204 for an explicit null body.
    const committed = commitNowOrLater(sessions, session, ctx.status);
    applyCommit(
      {
        get: (name) => ctx.response.get(name),
        set: (name, value) => ctx.set(name, value),
        append: (name, value) => ctx.append(name, value),
        names: () => Object.keys(ctx.response.headers),
        remove: (name) => ctx.remove(name),
      },
      committed instanceof Promise ? await committed : committed,
    );
  };
}

type HttpError = Error & { status?: unknown; statusCode?: unknown; headers?: Record<string, string | string[]> };

/** The status Koa's `ctx.onerror` answers `error` with. */
function statusOf(error: HttpError): number {
  const status = error.status ?? error.statusCode;
  return typeof status === "number" && STATUS_CODES[status] !== undefined ? status : 500;
}

/** `error.headers`, the headers Koa's `ctx.onerror` sends, whatever the case of their names. */
function errorHeaders(error: HttpError): ResponseHeaders {
  const headers = (error.headers ??= {});
  const keysOf = (name: string) => Object.keys(headers).filter((key) => key.toLowerCase() === name.toLowerCase());
  const get = (name: string) => keysOf(name).flatMap((key) => [headers[key] ?? []].flat());
  const remove = (name: string) => keysOf(name).forEach((key) => delete headers[key]);
  return {
    get,
    set: (name, value) => {
      remove(name);
      headers[name] = value;
    },
    append: (name, value) => {
      const values = get(name);
      remove(name);
      headers[name] = [...values, value];
    },
    names: () => Object.keys(headers),
    remove,
  };
}
