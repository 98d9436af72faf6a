/**
 * The Fetch adapter, for any runtime built on `Request` and `Response`: Next.js route handlers,
 * React Router / Remix loaders and actions, Bun.serve, Deno.serve, Cloudflare-style workers.
 * One function: `withSession(sessions, request, handler)` runs `handler` with the request's
 * session and returns its Response with the session's headers added.
 * @module
 */
import { SessionError } from "../errors.js";
import type { Sessions } from "../manager.js";
import type { RequestSessionData, Session } from "../session.js";
import { commitOnResponse, failureResponse } from "./web.js";

/** Options of {@link withSession}. */
export interface FetchAdapterOptions {
  /**
   * Builds the answer when the session fails: its commit (interrupted: status 400; store down:
   * 503; the handler's own Response is then discarded) or, inside the handler, any `SessionError`
   * (the store down while loading: 503).
   * @default a plain-text Response with the error's status
   * @example onError: (error) => Response.json({ error: "session" }, { status: 400 })
   */
  onError?: (error: unknown, request: Request) => Response | Promise<Response>;
}

/**
 * Runs `handler` with the visitor's session, then commits the session with the Response's
 * status and returns that Response carrying `Set-Cookie` / `Vary: Cookie` as needed.
 * A session failure is answered through `onError`; the handler's other exceptions propagate,
 * except a thrown Response (React Router's `throw redirect("/login")`): it gets the session's
 * headers too, and is thrown on.
 *
 * @example
 * // Next.js route handler (app/cart/route.ts); a React Router loader or action looks the same.
 * export function POST(request: Request) {
 *   return withSession(sessions, request, async (session) => {
 *     const cart = (await session.get("cart")) ?? [];
 *     await session.set("cart", [...cart, 42]);
 *     return Response.json({ items: cart.length + 1 });
 *   });
 * }
 *
 * @example
 * // Bun.serve, Deno.serve or any `(request) => Response` server:
 * Bun.serve({ fetch: (request) => withSession(sessions, request, (session) => app(request, session)) });
 */
export async function withSession<Data extends object = RequestSessionData>(
  sessions: Sessions<Data>,
  request: Request,
  handler: (session: Session<Data>, request: Request) => Response | Promise<Response>,
  options: FetchAdapterOptions = {},
): Promise<Response> {
  const session = sessions.openFromHeader(request.headers.get("cookie") ?? undefined);
  const onError = (error: unknown) => (options.onError ? options.onError(error, request) : failureResponse(error, sessions.options.logger));
  let response: Response;
  try {
    response = await handler(session, request);
  } catch (error) {
    // The session failing inside the handler (the store down while loading: 503) is answered
    // like a failed commit.
    if (error instanceof SessionError) return onError(error);
    if (error instanceof Response) throw await commitOn(sessions, session, error, onError);
    throw error;
  }
  return commitOn(sessions, session, response, onError);
}

/** Commits `session` onto `response`; a failed commit is answered through `onError`. */
async function commitOn<Data extends object>(
  sessions: Sessions<Data>,
  session: Session<Data>,
  response: Response,
  onError: (error: unknown) => Response | Promise<Response>,
): Promise<Response> {
  try {
    return await commitOnResponse(sessions, session, response);
  } catch (error) {
    return onError(error);
  }
}
