/**
 * The Fetch adapter, for any runtime built on `Request` and `Response`: Next.js route handlers,
 * React Router / Remix loaders and actions, Bun.serve, Deno.serve, Cloudflare-style workers.
 * One function: `withSession(sessions, request, handler)` runs `handler` with the request's
 * session and returns its Response with the session's headers added.
 * @module
 */
import { varyWithCookie } from "../cookie.js";
import { SessionError } from "../errors.js";
import type { CommitResult, Sessions } from "../manager.js";
import type { Logger } from "../options.js";
import type { RequestSessionData, Session } from "../session.js";

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
  const onError = (error: unknown) => (options.onError ? options.onError(error, request) : errorResponse(error, sessions.options.logger));
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

/** Commits `session` with `response`'s status and returns `response` with the session's headers. */
async function commitOn<Data extends object>(
  sessions: Sessions<Data>,
  session: Session<Data>,
  response: Response,
  onError: (error: unknown) => Response | Promise<Response>,
): Promise<Response> {
  let result: CommitResult;
  try {
    result = sessions.tryCommitSync(session, response.status) ?? (await sessions.commit(session, response.status));
  } catch (error) {
    await response.body?.cancel().catch(() => {});
    return onError(error);
  }
  const { setCookie, varyCookie } = result;
  const addTo = (headers: Headers) => {
    if (varyCookie) headers.set("Vary", varyWithCookie(headers.get("Vary") ?? undefined));
    if (setCookie !== undefined) headers.append("Set-Cookie", setCookie);
  };
  try {
    addTo(response.headers);
    return response;
  } catch {
    // Immutable headers (Response.redirect(), a fetch() result): the same Response, new headers.
    const copy = new Response(response.body, response);
    addTo(copy.headers);
    return copy;
  }
}

/** The default answer to a session failure: the error's status (400, 503...) and a short text. */
function errorResponse(error: unknown, logger: Logger): Response {
  const status = error instanceof SessionError ? error.status : 500;
  if (status >= 500) logger.error(`[tessera] The session failed; answering ${status}.`, error);
  const body = status === 400 ? "Bad Request: session interrupted" : status === 503 ? "Service Unavailable" : "Internal Server Error";
  return new Response(body, { status, headers: { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" } });
}
