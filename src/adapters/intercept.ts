/**
 * The response-interception kit of the node:http family (node:http, Express): the session is
 * committed when the handler first writes (headers, body or end), before any header leaves, so
 * a redirect or a streamed response never outruns its session.
 * @module
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Sessions } from "../manager.js";
import type { Session } from "../session.js";
import { applyCommit, commitNowOrLater, discardPrepared, failureAnswer, type ResponseHeaders } from "./shared.js";

/** The calls that send headers, which the commit must precede. */
export type HeaderSending = "writeHead" | "write" | "end" | "flushHeaders";
// node's overloads, replayed with their own arguments
export type Call = (...args: any[]) => unknown;
export type Originals = Readonly<Record<HeaderSending, Call>>;

const WAITING = 0; // no header-sending call yet
export const COMMITTING = 1; // the commit is saving; calls are held in order
const DONE = 2; // committed: calls go straight to the original methods

/** One response's interception state. */
export interface Hold {
  // The data type plays no part in committing.
  readonly sessions: Sessions<any>;
  readonly session: Session<any>;
  readonly onError: (error: unknown) => void;
  /** The methods the interception stands in front of. */
  readonly original: Originals;
  /** Whether `headersSent` must be overridden on the response itself while committing. */
  readonly ownHeadersSent: boolean;
  /** Called once the commit is done (or failed), when the calls pass straight through from then on. */
  readonly release: ((res: ServerResponse) => void) | undefined;
  phase: typeof WAITING | typeof COMMITTING | typeof DONE;
  /** The calls made while the commit runs, replayed once it is done. */
  held: { method: HeaderSending; args: unknown[] }[] | undefined;
}

export function newHold<Data extends object>(
  sessions: Sessions<Data>,
  session: Session<Data>,
  onError: (error: unknown) => void,
  original: Originals,
  ownHeadersSent: boolean,
  release?: (res: ServerResponse) => void,
): Hold {
  return { sessions, session, onError, original, ownHeadersSent, release, phase: WAITING, held: undefined };
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
  const hold = newHold(sessions, session, onCommitError, { writeHead: res.writeHead, write: res.write, end: res.end, flushHeaders: res.flushHeaders }, true);
  // Per-response wrappers: they also nest, should two session middlewares share a response.
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    return intercept(this, hold, "writeHead", args);
  } as ServerResponse["writeHead"];
  res.write = function (this: ServerResponse, ...args: unknown[]) {
    return intercept(this, hold, "write", args);
  } as ServerResponse["write"];
  res.end = function (this: ServerResponse, ...args: unknown[]) {
    return intercept(this, hold, "end", args);
  } as ServerResponse["end"];
  res.flushHeaders = function (this: ServerResponse) {
    intercept(this, hold, "flushHeaders", []);
  };
  return session;
}

/**
 * Answers a session failure in plain text with its status (interrupted: 400; store down: 503),
 * or aborts the response if its headers are already out.
 */
export function answerFailure(sessions: Sessions<any>, res: ServerResponse, error: unknown): void {
  const answer = failureAnswer(error, sessions.options.logger);
  if (res.headersSent) res.destroy();
  else res.writeHead(answer.status, answer.headers).end(answer.body);
}

/**
 * The first call that would send headers commits the session. When the commit needs no I/O
 * (the session was not changed) its headers are added and the call goes straight on; otherwise
 * this call and every later one are held until the save is done, then replayed in order.
 * Afterwards calls pass through, also when a middleware mounted later (compression...) wrapped
 * the method and still calls ours.
 */
export function intercept(res: ServerResponse, hold: Hold, method: HeaderSending, args: unknown[]): unknown {
  if (hold.phase === DONE) return hold.original[method].apply(res, args);
  if (method === "writeHead") args = absorbWriteHead(res, args);
  if (hold.phase === WAITING) {
    const committed = commitNowOrLater(hold.sessions, hold.session, res.statusCode);
    if (!(committed instanceof Promise)) {
      hold.phase = DONE;
      hold.release?.(res);
      applyCommit(nodeHeaders(res), committed);
      return hold.original[method].apply(res, args);
    }
    hold.phase = COMMITTING;
    hold.held = [];
    // The handler has started its response: to error paths (ours, Express's, Fastify's) the
    // headers count as sent, so a failure from here on aborts the response instead of
    // queueing a second one behind it. (On a shared prototype the getter there says so.)
    if (hold.ownHeadersSent) Object.defineProperty(res, "headersSent", { configurable: true, get: () => true });
    committed.then(
      (result) => {
        stepAside(res, hold);
        if (res.destroyed) return;
        try {
          applyCommit(nodeHeaders(res), result);
          for (const call of hold.held ?? []) hold.original[call.method].apply(res, call.args);
        } catch (error) {
          // What would have thrown in the handler (e.g. a second writeHead) has no caller left.
          res.destroy(error instanceof Error ? error : undefined);
        }
      },
      (error: unknown) => {
        stepAside(res, hold);
        discardPrepared(nodeHeaders(res));
        res.statusCode = 500;
        hold.onError(error);
      },
    );
  }
  hold.held?.push({ method, args });
  // Report success while held: the bytes are buffered until the commit finishes.
  return method === "write" ? true : method === "flushHeaders" ? undefined : res;
}

function stepAside(res: ServerResponse, hold: Hold): void {
  hold.phase = DONE;
  hold.release?.(res);
  if (hold.ownHeadersSent) delete (res as { headersSent?: boolean }).headersSent;
}

/** A node:http response's headers as the shared commit path sees them. */
function nodeHeaders(res: ServerResponse): ResponseHeaders {
  return {
    get: (name) => res.getHeader(name),
    set: (name, value) => void res.setHeader(name, value),
    append: (name, value) => void res.appendHeader(name, value),
    names: () => res.getHeaderNames(),
    remove: (name) => res.removeHeader(name),
  };
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
