/**
 * The h3 v1 adapter, for Nuxt 3 and 4 (both serve through h3 v1 on Node): a server middleware
 * that makes `event.context.session` the visitor's session. h3 v1 answers through
 * `event.node.res`, so the session is committed as the node:http adapter commits it, on the
 * response's first write, before any header leaves (see ./intercept.ts). For h3 v2 use
 * `tessera-sessions/h3`.
 *
 * ```ts
 * // server/middleware/session.ts
 * export default defineEventHandler(sessionHandler(sessions));
 * ```
 *
 * A session failure while loading is thrown from the handler's `session.get()` with its `status`
 * (the store down: 503), which h3 answers as that status; a failure while saving is answered
 * here in plain text (the store down: 503; the session deleted during the request: 400).
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Sessions } from "../manager.js";
import type { RequestSessionData, Session } from "../session.js";
import { answerFailure, attachSession } from "./intercept.js";

/** What the handler needs of an h3 v1 `H3Event` (so h3 v1 is not imported, and any 1.x fits). */
export interface NodeBackedEvent {
  readonly node: { readonly req: IncomingMessage; readonly res: ServerResponse };
  readonly context: Record<string, unknown>;
}

/**
 * An h3 v1 event handler that sets `event.context.session` and returns nothing, so the request
 * goes on to its route. Wrap it in `defineEventHandler` in a Nuxt/Nitro server middleware file,
 * or `app.use(defineEventHandler(sessionHandler(sessions)))` on a plain h3 v1 app.
 *
 * @example
 * export default defineEventHandler(async (event) => {
 *   const session = event.context.session as Session;
 *   await session.set("visits", ((await session.get("visits")) ?? 0) + 1);
 *   return "hello";
 * });
 */
export function sessionHandler<Data extends object = RequestSessionData>(sessions: Sessions<Data>): (event: NodeBackedEvent) => void {
  return (event) => {
    const { req, res } = event.node;
    const session: Session<Data> = attachSession(sessions, req, res, (error) => answerFailure(sessions, res, error));
    event.context["session"] = session;
  };
}
