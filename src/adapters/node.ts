/**
 * The node:http adapter, and the response plumbing Express reuses: the session is committed
 * when the handler first writes (headers, body or end), before any header leaves, so a redirect
 * or a streamed response never outruns its session.
 * @module
 */
import { type IncomingMessage, type OutgoingHttpHeaders, ServerResponse } from "node:http";
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
 * `attachSession` for responses whose prototype was swapped in by the framework, as Express
 * does for every request (`Object.setPrototypeOf(res, app.response)`). V8 gives such an object a
 * new hidden class for every property added to it afterwards, which costs about 10 µs each and
 * leaves the framework's own code megamorphic. So nothing is added to `res`: the header-sending
 * methods are intercepted once on the framework's shared response prototype (the one just
 * above `http.ServerResponse.prototype`), find this response's state in a WeakMap, and pass
 * straight through for responses without a session. Falls back to `attachSession` where that
 * cannot work (the methods are overridden on the way, or a session is already held on `res`).
 * @internal
 */
export function attachSessionShared<Data extends object>(
  sessions: Sessions<Data>,
  req: IncomingMessage,
  res: ServerResponse,
  onCommitError: (error: unknown) => void,
): Session<Data> {
  if (HOLDS.has(res) || !interceptsOnPrototype(res)) return attachSession(sessions, req, res, onCommitError);
  const session = sessions.openFromHeader(req.headers.cookie);
  HOLDS.set(res, newHold(sessions, session, onCommitError, originalsOf(res), false));
  return session;
}

/** The calls that send headers, which the commit must precede. */
type HeaderSending = "writeHead" | "write" | "end" | "flushHeaders";
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- node's overloads, replayed with their own arguments
type Call = (...args: any[]) => unknown;
type Originals = Readonly<Record<HeaderSending, Call>>;

const WAITING = 0; // no header-sending call yet
const COMMITTING = 1; // the commit is saving; calls are held in order
const DONE = 2; // committed: calls go straight to the original methods

/** One response's interception state. */
interface Hold {
  // The data type plays no part in committing.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly sessions: Sessions<any>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly session: Session<any>;
  readonly onError: (error: unknown) => void;
  /** The methods the interception stands in front of. */
  readonly original: Originals;
  /** Whether `headersSent` must be overridden on the response itself while committing. */
  readonly ownHeadersSent: boolean;
  phase: typeof WAITING | typeof COMMITTING | typeof DONE;
  /** The calls made while the commit runs, replayed once it is done. */
  held: { method: HeaderSending; args: unknown[] }[] | undefined;
}

function newHold<Data extends object>(sessions: Sessions<Data>, session: Session<Data>, onError: (error: unknown) => void, original: Originals, ownHeadersSent: boolean): Hold {
  return { sessions, session, onError, original, ownHeadersSent, phase: WAITING, held: undefined };
}

/**
 * The first call that would send headers commits the session. When the commit needs no I/O
 * (the session was not changed) its headers are added and the call goes straight on; otherwise
 * this call and every later one are held until the save is done, then replayed in order.
 * Afterwards calls pass through, also when a middleware mounted later (compression...) wrapped
 * the method and still calls ours.
 */
function intercept(res: ServerResponse, hold: Hold, method: HeaderSending, args: unknown[]): unknown {
  if (hold.phase === DONE) return hold.original[method].apply(res, args);
  if (method === "writeHead") args = absorbWriteHead(res, args);
  if (hold.phase === WAITING) {
    const ready = hold.sessions.tryCommitSync(hold.session, res.statusCode);
    if (ready !== undefined) {
      hold.phase = DONE;
      addCommitHeaders(res, ready);
      return hold.original[method].apply(res, args);
    }
    hold.phase = COMMITTING;
    hold.held = [];
    // The handler has started its response: to error paths (ours, Express's, Fastify's) the
    // headers count as sent, so a failure from here on aborts the response instead of
    // queueing a second one behind it. (On a shared prototype the getter there says so.)
    if (hold.ownHeadersSent) Object.defineProperty(res, "headersSent", { configurable: true, get: () => true });
    hold.sessions.commit(hold.session, res.statusCode).then(
      (result) => {
        stepAside(res, hold);
        if (res.destroyed) return;
        try {
          addCommitHeaders(res, result);
          for (const call of hold.held ?? []) hold.original[call.method].apply(res, call.args);
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
  hold.held?.push({ method, args });
  // Report success while held: the bytes are buffered until the commit finishes.
  return method === "write" ? true : method === "flushHeaders" ? undefined : res;
}

function stepAside(res: ServerResponse, hold: Hold): void {
  hold.phase = DONE;
  if (hold.ownHeadersSent) delete (res as { headersSent?: boolean }).headersSent;
}

function addCommitHeaders(res: ServerResponse, { setCookie, varyCookie }: CommitResult): void {
  if (varyCookie) res.setHeader("Vary", varyWithCookie(res.getHeader("Vary")));
  if (setCookie !== undefined) res.appendHeader("Set-Cookie", setCookie);
}

// ---- the shared-prototype interception (attachSessionShared) ----

const HOLDS = new WeakMap<ServerResponse, Hold>();
/** The methods each patched prototype had before, found by the interceptors through `this`. */
const ORIGINALS = Symbol("tessera.originals");
type PatchedPrototype = { [ORIGINALS]: Originals };

function sharedIntercept(res: ServerResponse, method: HeaderSending, args: unknown[]): unknown {
  const hold = HOLDS.get(res);
  if (hold === undefined) return originalsOf(res)[method].apply(res, args);
  return intercept(res, hold, method, args);
}
const SHARED: Originals = {
  writeHead: function (this: ServerResponse, ...args: unknown[]) {
    return sharedIntercept(this, "writeHead", args);
  },
  write: function (this: ServerResponse, ...args: unknown[]) {
    return sharedIntercept(this, "write", args);
  },
  end: function (this: ServerResponse, ...args: unknown[]) {
    return sharedIntercept(this, "end", args);
  },
  flushHeaders: function (this: ServerResponse) {
    sharedIntercept(this, "flushHeaders", []);
  },
};

function originalsOf(res: ServerResponse): Originals {
  return (res as unknown as PatchedPrototype)[ORIGINALS];
}

/**
 * Patches (once) the framework's response prototype just above `http.ServerResponse.prototype`
 * in `res`'s chain, and says whether `res`'s header-sending methods now reach the interceptors.
 */
function interceptsOnPrototype(res: ServerResponse): boolean {
  if (reachesShared(res)) return true;
  const base = prototypeAbove(res, ServerResponse.prototype);
  if (base === undefined || Object.hasOwn(base, ORIGINALS)) return false; // plain node:http, or overridden on the way
  const proto = base as Record<HeaderSending, Call>;
  const originals: Originals = { writeHead: proto.writeHead, write: proto.write, end: proto.end, flushHeaders: proto.flushHeaders };
  const inheritedHeadersSent = headersSentGetter(base);
  Object.defineProperty(base, ORIGINALS, { value: originals });
  for (const method of ["writeHead", "write", "end", "flushHeaders"] as const) {
    Object.defineProperty(base, method, { value: SHARED[method], writable: true, configurable: true });
  }
  // While a commit is saving, the response counts as sent (see `intercept`).
  Object.defineProperty(base, "headersSent", {
    configurable: true,
    get(this: ServerResponse) {
      return HOLDS.get(this)?.phase === COMMITTING || inheritedHeadersSent.call(this);
    },
  });
  return reachesShared(res);
}

function reachesShared(res: ServerResponse): boolean {
  return res.writeHead === SHARED.writeHead && res.write === SHARED.write && res.end === SHARED.end && res.flushHeaders === SHARED.flushHeaders;
}

/**
 * The object in `object`'s prototype chain whose own prototype is `proto`, if it is not `object`
 * itself: where a framework keeps what all its requests or responses share.
 * @internal
 */
export function prototypeAbove(object: object, proto: object): object | undefined {
  for (let base = Object.getPrototypeOf(object) as object | null; base !== null; base = Object.getPrototypeOf(base) as object | null) {
    if (Object.getPrototypeOf(base) === proto) return base;
  }
  return undefined;
}

function headersSentGetter(from: object): (this: ServerResponse) => boolean {
  for (let proto: object | null = from; proto !== null; proto = Object.getPrototypeOf(proto) as object | null) {
    const getter = Object.getOwnPropertyDescriptor(proto, "headersSent")?.get;
    if (getter) return getter as (this: ServerResponse) => boolean;
  }
  throw new Error("[tessera] http.ServerResponse has no headersSent getter");
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
