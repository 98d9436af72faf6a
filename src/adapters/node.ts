/**
 * The node:http adapter: `withSession(sessions, handler)` gives the handler `req.session`,
 * committed when the handler first writes (see ./intercept.ts), before any header leaves.
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Sessions } from "../manager.js";
import type { RequestSessionData, Session } from "../session.js";
import { answerFailure, attachSession } from "./intercept.js";

export { attachSession } from "./intercept.js";

/** A node:http request carrying its session. */
export type RequestWithSession<Data extends object = RequestSessionData> = IncomingMessage & { session: Session<Data> };

/** Options of {@link withSession}. */
export interface NodeAdapterOptions {
  /**
   * Answers a request whose session could not be committed (interrupted: 400; store down: 503).
   * @default a plain-text response with the error's status
   */
  onError?: (error: unknown, req: IncomingMessage, res: ServerResponse) => void;
}

/**
 * Wraps a node:http request listener so `req.session` is the visitor's session and is saved
 * (and its cookie set) before the response goes out.
 *
 * @example
 * http.createServer(withSession(sessions, async (req, res) => {
 *   await req.session.set("visits", ((await req.session.get("visits")) ?? 0) + 1);
 *   res.end("hello");
 * }));
 */
export function withSession<Data extends object = RequestSessionData>(
  sessions: Sessions<Data>,
  handler: (req: RequestWithSession<Data>, res: ServerResponse) => unknown,
  options: NodeAdapterOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const onError = options.onError ?? ((error: unknown, _req: IncomingMessage, res: ServerResponse) => answerFailure(sessions, res, error));
  return (req, res) => {
    const request = req as RequestWithSession<Data>;
    request.session = attachSession(sessions, req, res, (error) => onError(error, req, res));
    const fail = (error: unknown) => {
      if (res.headersSent) res.destroy(error instanceof Error ? error : undefined);
      else onError(error, req, res);
    };
    try {
      const result = handler(request, res);
      if (result instanceof Promise) result.catch(fail);
    } catch (error) {
      fail(error);
    }
  };
}
