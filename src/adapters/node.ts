/**
 * The node:http adapter, and the response plumbing Express reuses: the session is committed
 * when the handler first writes (headers, body or end), before any header leaves, so a redirect
 * or a streamed response never outruns its session.
 * @module
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { varyWithCookie } from "../cookie.js";
import type { CommitResult, Sessions } from "../manager.js";
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
  (res as HeldResponse)[HOLD] = {
    sessions,
    session,
    onError: onCommitError,
    phase: WAITING,
    held: [],
    writeHead: res.writeHead,
    write: res.write,
    end: res.end,
    flushHeaders: res.flushHeaders,
  } satisfies Hold;
  // Shared functions rather than per-request closures: they find their state under HOLD.
  res.writeHead = heldWriteHead as ServerResponse["writeHead"];
  res.write = heldWrite as ServerResponse["write"];
  res.end = heldEnd as ServerResponse["end"];
  res.flushHeaders = heldFlushHeaders as ServerResponse["flushHeaders"];
  return session;
}

/** The calls that send headers, which the commit must precede. */
type HeaderSending = "writeHead" | "write" | "end" | "flushHeaders";
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- node's overloads, replayed with their own arguments
type Call = (...args: any[]) => unknown;

const WAITING = 0; // no header-sending call yet
const COMMITTING = 1; // the commit is saving; calls are held in order
const DONE = 2; // committed: calls go straight to the methods we replaced

/** One response's interception state. */
interface Hold extends Record<HeaderSending, Call> {
  // The data type plays no part in committing.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly sessions: Sessions<any>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly session: Session<any>;
  readonly onError: (error: unknown) => void;
  phase: typeof WAITING | typeof COMMITTING | typeof DONE;
  /** The calls made while the commit runs, replayed once it is done. */
  readonly held: { method: HeaderSending; args: unknown[] }[];
}
const HOLD = Symbol("tessera.hold");
type HeldResponse = ServerResponse & { [HOLD]: Hold };

function heldWriteHead(this: HeldResponse, ...args: unknown[]): unknown {
  return intercept(this, "writeHead", args);
}
function heldWrite(this: HeldResponse, ...args: unknown[]): unknown {
  return intercept(this, "write", args);
}
function heldEnd(this: HeldResponse, ...args: unknown[]): unknown {
  return intercept(this, "end", args);
}
function heldFlushHeaders(this: HeldResponse): void {
  intercept(this, "flushHeaders", []);
}

/**
 * The first call that would send headers commits the session. When the commit needs no I/O
 * (the session was not changed) its headers are added and the call goes straight on; otherwise
 * this call and every later one are held until the save is done, then replayed in order.
 * Afterwards calls pass through, also when a middleware mounted later (compression...) wrapped
 * the method and still calls ours.
 */
function intercept(res: HeldResponse, method: HeaderSending, args: unknown[]): unknown {
  const hold = res[HOLD];
  if (hold.phase === DONE) return hold[method].apply(res, args);
  if (method === "writeHead") args = absorbWriteHead(res, args);
  if (hold.phase === WAITING) {
    const ready = hold.sessions.tryCommitSync(hold.session, res.statusCode);
    if (ready !== undefined) {
      hold.phase = DONE;
      addCommitHeaders(res, ready);
      return hold[method].apply(res, args);
    }
    hold.phase = COMMITTING;
    // The handler has started its response: to error paths (ours, Express's, Fastify's) the
    // headers count as sent, so a failure from here on aborts the response instead of
    // queueing a second one behind it.
    Object.defineProperty(res, "headersSent", { configurable: true, get: () => true });
    hold.sessions.commit(hold.session, res.statusCode).then(
      (result) => {
        stepAside(res, hold);
        if (res.destroyed) return;
        try {
          addCommitHeaders(res, result);
          for (const call of hold.held) hold[call.method].apply(res, call.args);
        } catch (error) {
          // What would have thrown in the handler (e.g. a second writeHead) has no caller left.
          res.destroy(error instanceof Error ? error : undefined);
        }
      },
      (error: unknown) => {
        stepAside(res, hold);
        // Nothing the handler prepared (a redirect's Location, its status) may leak into the error response.
        for (const name of res.getHeaderNames()) res.removeHeader(name);
        res.statusCode = 500;
        hold.onError(error);
      },
    );
  }
  hold.held.push({ method, args });
  // Report success while held: the bytes are buffered until the commit finishes.
  return method === "write" ? true : method === "flushHeaders" ? undefined : res;
}

function stepAside(res: HeldResponse, hold: Hold): void {
  hold.phase = DONE;
  delete (res as { headersSent?: boolean }).headersSent;
}

function addCommitHeaders(res: ServerResponse, { setCookie, varyCookie }: CommitResult): void {
  if (varyCookie) res.setHeader("Vary", varyWithCookie(res.getHeader("Vary")));
  if (setCookie !== undefined) res.appendHeader("Set-Cookie", setCookie);
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
