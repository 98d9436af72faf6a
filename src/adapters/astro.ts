/**
 * The Astro adapter (server output, `output: "server"` or pages with `prerender = false`):
 * `export const onRequest = sessionMiddleware(sessions)` in `src/middleware.ts` makes
 * `Astro.locals.session` (and `context.locals.session` in endpoints) the visitor's session,
 * committed on the response Astro rendered (with `sequence()` it composes with other middleware).
 *
 * A session failure is answered with its status: the session deleted during the request, 400;
 * the store down, 503 (also when it fails inside a page, which Astro would answer 500).
 * This is Tessera's session, beside Astro's own `Astro.session` (a different, optional feature).
 * @module
 */
import type { MiddlewareHandler } from "astro";
import type { Sessions } from "../manager.js";
import type { RequestSessionData, Session } from "../session.js";
import { type FetchAdapterOptions, withSession } from "./fetch.js";
import { renderWatching } from "./web.js";

declare global {
  // Astro's (and SvelteKit's) documented way to type `locals`.
  namespace App {
    interface Locals {
      /** The visitor's session (set by Tessera's `sessionHandle` or `sessionMiddleware`). */
      session: Session<RequestSessionData>;
    }
  }
}

/**
 * Astro middleware that sets `locals.session` and saves the session once the page or endpoint
 * has rendered, with the response's status. `onError` builds the answer to a session failure
 * (default: a plain-text 400 or 503).
 *
 * @example
 * // src/middleware.ts
 * export const onRequest = sessionMiddleware(sessions);
 * // src/pages/index.astro (frontmatter)
 * const name = await Astro.locals.session.get("name");
 */
export function sessionMiddleware<Data extends object = RequestSessionData>(sessions: Sessions<Data>, options: FetchAdapterOptions = {}): MiddlewareHandler {
  return (context, next) =>
    withSession(
      sessions,
      context.request,
      (session) => renderWatching(session, (watched) => (context.locals.session = watched as unknown as Session<RequestSessionData>), next),
      options,
    );
}
