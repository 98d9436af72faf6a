/**
 * The interception of {@link attachSession}, installed once on a framework's shared response
 * prototype instead of on every response (Express swaps each response's prototype for its own).
 * @module
 */
import { type IncomingMessage, ServerResponse } from "node:http";
import type { Sessions } from "../manager.js";
import type { Session } from "../session.js";
import { attachSession, COMMITTING, intercept, newHold, type Call, type HeaderSending, type Hold, type Originals } from "./intercept.js";

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
  HOLDS.set(res, newHold(sessions, session, onCommitError, originalsOf(res), false, release));
  return session;
}

/**
 * Each response's hold until its commit is done; then the entry goes (a missing hold passes
 * straight through, as a done one does). The hold reaches its response back (through Express's
 * `next`), and V8's young-generation GC keeps a WeakMap key alive that its own value reaches:
 * left in the map, every finished request and response survived into the old generation, which
 * cost Express about 45 µs of GC per request.
 */
const HOLDS = new WeakMap<ServerResponse, Hold>();

function release(res: ServerResponse): void {
  HOLDS.delete(res);
}

/** @internal Whether `res` still has its interception state here (for the tests). */
export function holdsResponse(res: ServerResponse): boolean {
  return HOLDS.has(res);
}
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

// Read on the prototype: `res` never has them itself, and a read on `res` misses V8's caches (see reachesShared).
function originalsOf(res: ServerResponse): Originals {
  return (Object.getPrototypeOf(res) as PatchedPrototype)[ORIGINALS];
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

/**
 * Whether `res`'s header-sending methods are the interceptors. Read on its prototype, with no own
 * override checked by `Object.hasOwn`: Express gives every response a hidden class of its own, so
 * each named property read on `res` itself misses V8's caches (about 0.2 µs, four of them here).
 */
function reachesShared(res: ServerResponse): boolean {
  const proto = Object.getPrototypeOf(res) as Record<HeaderSending, unknown>;
  return (
    proto.writeHead === SHARED.writeHead &&
    proto.write === SHARED.write &&
    proto.end === SHARED.end &&
    proto.flushHeaders === SHARED.flushHeaders &&
    !Object.hasOwn(res, "writeHead") &&
    !Object.hasOwn(res, "write") &&
    !Object.hasOwn(res, "end") &&
    !Object.hasOwn(res, "flushHeaders")
  );
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
