/**
 * The Koa adapter: `app.use(sessionMiddleware(sessions))` gives every request `ctx.session`,
 * committed once the downstream middleware has finished, with the status Koa is about to send.
 * Commit errors are thrown, so Koa's error handling answers with their `status` (400 for an
 * interrupted session, 503 when the store is down).
 * @module
 */
import { STATUS_CODES } from "node:http";
import type { DefaultState, Middleware } from "koa";
import { varyWithCookie } from "../cookie.js";
import type { CommitResult, Sessions } from "../manager.js";
import type { RequestSessionData, Session } from "../session.js";

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
export function sessionMiddleware<Data extends object = RequestSessionData>(
  sessions: Sessions<Data>,
): Middleware<DefaultState, { session: Session<Data> }> {
  return async (ctx, next) => {
    const session = sessions.openFromHeader(ctx.headers.cookie);
    ctx.session = session;
    try {
      await next();
    } catch (error) {
      // Django answers an exception with a response and still commits on it: a 4xx saves the
      // session. Koa clears every header before answering an error but keeps `err.headers`.
      if (error instanceof Error) addErrorHeaders(error, await sessions.commit(session, statusOf(error)));
      throw error;
    }
    // `ctx.status` is what Koa sends: 404 if nothing set a body, 204 for an explicit null body.
    const { setCookie, varyCookie } = sessions.tryCommitSync(session, ctx.status) ?? (await sessions.commit(session, ctx.status));
    if (varyCookie) ctx.set("Vary", varyWithCookie(ctx.response.get("Vary") || undefined));
    if (setCookie !== undefined) ctx.append("Set-Cookie", setCookie);
  };
}

type HttpError = Error & { status?: unknown; statusCode?: unknown; headers?: Record<string, string | string[]> };

/** The status Koa's `ctx.onerror` answers `error` with. */
function statusOf(error: HttpError): number {
  const status = error.status ?? error.statusCode;
  return typeof status === "number" && STATUS_CODES[status] !== undefined ? status : 500;
}

/** Adds the session's headers to `error.headers`, the headers Koa's `ctx.onerror` sends. */
function addErrorHeaders(error: HttpError, { setCookie, varyCookie }: CommitResult): void {
  const headers = (error.headers ??= {});
  const take = (name: string): string[] => {
    const values: string[] = [];
    for (const key of Object.keys(headers)) {
      if (key.toLowerCase() !== name) continue;
      values.push(...[headers[key] ?? []].flat());
      delete headers[key];
    }
    return values;
  };
  if (varyCookie) headers["Vary"] = varyWithCookie(take("vary"));
  if (setCookie !== undefined) headers["Set-Cookie"] = [...take("set-cookie"), setCookie];
}
