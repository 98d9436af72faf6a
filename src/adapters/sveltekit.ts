/**
 * The SvelteKit adapter: `export const handle = sessionHandle(sessions)` in `src/hooks.server.ts`
 * makes `event.locals.session` the visitor's session in every load function, form action and
 * `+server` endpoint, committed on the response SvelteKit resolved (with `sequence()` it
 * composes with other hooks).
 *
 * A session failure is answered with its status: the session deleted during the request, 400;
 * the store down, 503 (also when it fails inside a route, which SvelteKit would answer 500).
 * @module
 */
import type { Handle } from "@sveltejs/kit";
import type { Sessions } from "../manager.js";
import type { RequestSessionData, Session } from "../session.js";
import { type FetchAdapterOptions, withSession } from "./fetch.js";
import { renderWatching } from "./web.js";

declare global {
  // SvelteKit's (and Astro's) documented way to type `locals`.
  namespace App {
    interface Locals {
      /** The visitor's session (set by Tessera's `sessionHandle` or `sessionMiddleware`). */
      session: Session<RequestSessionData>;
    }
  }
}

/**
 * A SvelteKit `handle` hook that sets `event.locals.session` and saves the session once the
 * response is resolved, with its status. `onError` builds the answer to a session failure
 * (default: a plain-text 400 or 503).
 *
 * @example
 * // src/hooks.server.ts
 * export const handle = sessionHandle(sessions);
 * // src/routes/+page.server.ts
 * export const load = async ({ locals }) => ({ name: await locals.session.get("name") });
 */
export function sessionHandle<Data extends object = RequestSessionData>(sessions: Sessions<Data>, options: FetchAdapterOptions = {}): Handle {
  return ({ event, resolve }) =>
    withSession(
      sessions,
      event.request,
      (session) =>
        renderWatching(
          session,
          (watched) => (event.locals.session = watched as unknown as Session<RequestSessionData>),
          () => resolve(event),
        ),
      options,
    );
}
