/**
 * What the adapters for frameworks built on the web `Response` share (fetch, h3, SvelteKit,
 * Astro, React Router), on top of the commit path in shared.ts: committing a session onto a
 * finished Response, and the default answer to a session failure as a Response.
 * @module
 */
import { SessionError } from "../errors.js";
import type { CommitResult, Sessions } from "../manager.js";
import type { Logger } from "../options.js";
import type { Session } from "../session.js";
import { applyCommit, commitNowOrLater, failureAnswer, fetchHeaders } from "./shared.js";

/**
 * Commits `session` with `response`'s status and returns `response` carrying `Set-Cookie` /
 * `Vary: Cookie` as needed: the same object, or a copy when its headers are immutable
 * (`Response.redirect()`, a `fetch()` result). When the commit fails (interrupted: 400, store
 * down: 503) the response's body is cancelled and the error is thrown.
 */
export async function commitOnResponse<Data extends object>(sessions: Sessions<Data>, session: Session<Data>, response: Response): Promise<Response> {
  let result: CommitResult;
  try {
    const committed = commitNowOrLater(sessions, session, response.status);
    result = committed instanceof Promise ? await committed : committed;
  } catch (error) {
    await response.body?.cancel().catch(() => {});
    throw error;
  }
  try {
    applyCommit(fetchHeaders(response.headers), result);
    return response;
  } catch {
    // Immutable headers (Response.redirect(), a fetch() result): the same Response, new headers.
    const copy = new Response(response.body, response);
    applyCommit(fetchHeaders(copy.headers), result);
    return copy;
  }
}

/** The default answer to a session failure (shared.ts `failureAnswer`) as a Response. */
export function failureResponse(error: unknown, logger: Logger): Response {
  const { status, body, headers } = failureAnswer(error, logger);
  return new Response(body, { status, headers });
}

/**
 * For frameworks that answer a route's exception with their own 500 page (SvelteKit, Astro):
 * runs `render` with `session` watched (handed to the app through `expose`), and when the
 * session failed (the store down while loading) and the page is a 5xx, throws that failure so
 * that it is answered with its own status (503) instead.
 */
export async function renderWatching<Data extends object>(
  session: Session<Data>,
  expose: (session: Session<Data>) => void,
  render: () => Response | Promise<Response>,
): Promise<Response> {
  const watched = watchSession(session);
  expose(watched.session);
  const response = await render();
  const failure = watched.failure();
  if (failure === undefined || response.status < 500) return response;
  await response.body?.cancel().catch(() => {});
  throw failure;
}

/** The session as the app sees it, and the first session error one of its calls raised. */
function watchSession<Data extends object>(session: Session<Data>): { session: Session<Data>; failure(): SessionError | undefined } {
  let failure: SessionError | undefined;
  const note = (error: unknown) => {
    if (error instanceof SessionError) failure ??= error;
    throw error;
  };
  const watched = new Proxy(session, {
    get(target, name) {
      // The session's private fields need the real object as `this`.
      const value: unknown = Reflect.get(target, name, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const result: unknown = Reflect.apply(value, target, args);
        return result instanceof Promise ? result.catch(note) : result;
      };
    },
    set: (target, name, value) => Reflect.set(target, name, value, target),
  });
  return { session: watched, failure: () => failure };
}
