/**
 * The node:http adapter, and the response plumbing Express reuses: the session is committed
 * when the handler first writes (headers, body or end), before any header leaves, so a redirect
 * or a streamed response never outruns its session.
 * @module
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { varyWithCookie } from "../cookie.js";
import type { Sessions } from "../manager.js";
import type { Logger } from "../options.js";
import type { RequestSessionData, Session } from "../session.js";

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
  const onError = options.onError ?? errorResponder(sessions.options.logger);
  return (req, res) => {
    const request = req as RequestWithSession<Data>;
    request.session = attachSession(sessions, req, res, (error) => onError(error, req, res));
    Promise.resolve()
      .then(() => handler(request, res))
      .catch((error: unknown) => {
        if (res.headersSent) res.destroy(error instanceof Error ? error : undefined);
        else onError(error, req, res);
      });
  };
}

/**
 * Opens the session for `req` and arranges for it to be committed before `res` sends headers.
 * If the commit fails, nothing the handler wrote is sent and `onCommitError` must answer.
 * For adapter authors; apps use `withSession` or a framework adapter.
 */
export function attachSession<Data extends object>(
  sessions: Sessions<Data>,
  req: IncomingMessage,
  res: ServerResponse,
  onCommitError: (error: unknown) => void,
): Session<Data> {
  const session = sessions.openFromHeader(req.headers.cookie);
  holdHeadersUntil(res, async () => {
    const { setCookie, varyCookie } = await sessions.commit(session, res.statusCode);
    if (varyCookie) res.setHeader("Vary", varyWithCookie(res.getHeader("Vary")));
    if (setCookie !== undefined) res.appendHeader("Set-Cookie", setCookie);
  }, onCommitError);
  return session;
}

/** The calls that send headers, which the commit must precede. */
const HEADER_SENDING = ["writeHead", "write", "end", "flushHeaders"] as const;
type HeaderSending = (typeof HEADER_SENDING)[number];
type Call = (...args: unknown[]) => unknown;
type Held = { method: HeaderSending; args: unknown[] };

/**
 * Intercepts the calls that would send headers; on the first one, runs `commit`, then replays
 * the held calls in order. Afterwards the interception steps aside: it is removed where it is
 * still the response's own method, and passes calls straight through where a middleware
 * mounted later (compression...) wrapped it and still calls it.
 */
function holdHeadersUntil(res: ServerResponse, commit: () => Promise<void>, onError: (error: unknown) => void): void {
  const methods = res as unknown as Record<HeaderSending, Call>;
  const original = {} as Record<HeaderSending, Call>;
  const holds = {} as Record<HeaderSending, Call>;
  const held: Held[] = [];
  let phase: "waiting" | "committing" | "done" = "waiting";

  const passThrough = (method: HeaderSending, args: unknown[]) => original[method].apply(res, args);
  const stepAside = () => {
    phase = "done";
    for (const method of HEADER_SENDING) if (methods[method] === holds[method]) methods[method] = original[method];
    delete (res as { headersSent?: boolean }).headersSent;
  };
  const hold = (method: HeaderSending) =>
    function (this: ServerResponse, ...args: unknown[]): unknown {
      if (phase === "done") return passThrough(method, args);
      if (method === "writeHead") args = absorbWriteHead(res, args);
      held.push({ method, args });
      if (phase === "waiting") {
        phase = "committing";
        // The handler has started its response: to error paths (ours, Express's, Fastify's) the
        // headers count as sent, so a failure from here on aborts the response instead of
        // queueing a second one behind it.
        Object.defineProperty(res, "headersSent", { configurable: true, get: () => true });
        commit().then(
          () => {
            stepAside();
            if (res.destroyed) return;
            try {
              for (const call of held) passThrough(call.method, call.args);
            } catch (error) {
              // What would have thrown in the handler (e.g. a second writeHead) has no caller left.
              res.destroy(error instanceof Error ? error : undefined);
            }
          },
          (error: unknown) => {
            stepAside();
            // Nothing the handler prepared (a redirect's Location, its status) may leak into the error response.
            for (const name of res.getHeaderNames()) res.removeHeader(name);
            res.statusCode = 500;
            onError(error);
          },
        );
      }
      // Report success while held: the bytes are buffered until the commit finishes.
      return method === "write" ? true : method === "flushHeaders" ? undefined : res;
    };
  for (const method of HEADER_SENDING) {
    original[method] = methods[method];
    holds[method] = hold(method);
    methods[method] = holds[method];
  }
}

/**
 * Applies `writeHead(status, [message], [headers])` to the response's header state now, so the
 * commit sees the status and its own Vary/Set-Cookie merge with the handler's instead of being
 * overwritten. Returns the arguments to replay.
 */
function absorbWriteHead(res: ServerResponse, args: unknown[]): unknown[] {
  const [status, second, third] = args;
  const headers = typeof second === "string" ? third : second;
  if (typeof status === "number") res.statusCode = status;
  if (Array.isArray(headers)) {
    // The flat raw form: [name, value, name, value, ...] or a list of [name, value] pairs.
    const pairs = Array.isArray(headers[0]) ? (headers as [string, string][]) : chunkPairs(headers as string[]);
    for (const [name, value] of pairs) res.appendHeader(name, value);
  } else if (headers && typeof headers === "object") {
    for (const [name, value] of Object.entries(headers as OutgoingHttpHeaders)) if (value !== undefined) res.setHeader(name, value);
  }
  return typeof second === "string" ? [status, second] : [status];
}

function chunkPairs(flat: string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([flat[i] as string, flat[i + 1] as string]);
  return pairs;
}

/** The default answer to a failed commit: the error's status (400, 503...) and a short text. */
function errorResponder(logger: Logger): NonNullable<NodeAdapterOptions["onError"]> {
  return (error, _req, res) => {
    const status = (error as { status?: unknown } | null)?.status;
    const code = typeof status === "number" && status >= 400 && status <= 599 ? status : 500;
    if (code >= 500) logger.error("[tessera] A request failed while handling its session.", error);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = code === 400 ? "Bad Request: session interrupted" : code === 503 ? "Service Unavailable" : "Internal Server Error";
    res.writeHead(code, { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" });
    res.end(body);
  };
}
