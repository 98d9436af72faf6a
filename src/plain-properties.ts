/**
 * Plain-property access on a Session (`req.session.user`, `req.session.user = x`): the habit of
 * express-session and cookie-session code. Without this, such a read would quietly be
 * `undefined` and such a write would be lost. With it, both work once the session is loaded and
 * otherwise throw an error that says what to call.
 *
 * It is a Proxy placed *above* `Session.prototype` in the prototype chain, so it only sees names
 * the Session does not have: method calls and the flags never reach it and cost nothing extra.
 * @module
 */
import { SessionNotLoadedError } from "./errors.js";

/** @internal The session's loaded data view (`session.data`), or undefined before it is loaded. */
export const loadedView = Symbol("tessera.loadedView");

interface Guarded {
  [loadedView](): Record<string, unknown> | undefined;
}

/** express-session's API, which is not session data: what to use in Tessera instead. */
const EXPRESS_SESSION_HABITS: Readonly<Record<string, string>> = {
  id: "req.session.sessionKey (null until the session is saved)",
  regenerate: "await req.session.cycleKey() (it keeps the data under a new key; call it on login)",
  destroy: "await req.session.flush() (it deletes the record and the cookie)",
  reload: "nothing: each request loads the session afresh; read with await req.session.get(key)",
  touch: "nothing: saves slide the expiry (see the idleTimeout and touchInterval options)",
  resetMaxAge: "await req.session.setExpiry(null)",
  cookie: "await req.session.setExpiry(seconds) / getExpiryAge(); cookie attributes are set once, in createSessions({ cookie })",
};

/**
 * Names that the platform and common libraries probe on any object (`await`, JSON, test
 * matchers, React, inspectors): they are never session data and must stay `undefined`.
 */
const PROBES = new Set([
  "then",
  "toJSON",
  "asymmetricMatch",
  "$$typeof",
  "nodeType",
  "tagName",
  "length",
  "size",
  "inspect",
  "_isMockFunction",
  "__esModule",
  "@@__IMMUTABLE_ITERABLE__@@",
  "@@__IMMUTABLE_RECORD__@@",
]);

/**
 * Puts the guard above `prototype`. `ownFields` are the instance fields the constructor assigns,
 * which must pass straight through (under assign semantics they would reach the `set` trap).
 */
export function guardPlainProperties(prototype: object, ownFields: readonly string[]): void {
  const passThrough = new Set(ownFields);
  const base = Object.getPrototypeOf(prototype) as object;
  Object.setPrototypeOf(
    prototype,
    new Proxy(base, {
      get(target, property, receiver) {
        if (typeof property === "symbol" || property in target || PROBES.has(property)) return Reflect.get(target, property, receiver) as unknown;
        return viewFor(receiver as Guarded, property, "read")[property];
      },
      set(target, property, value, receiver) {
        if (typeof property === "symbol" || property in target || passThrough.has(property)) return Reflect.set(target, property, value, receiver);
        viewFor(receiver as Guarded, property, "set")[property] = value;
        return true;
      },
    }),
  );
}

function viewFor(session: Guarded, property: string, access: "read" | "set"): Record<string, unknown> {
  const habit = EXPRESS_SESSION_HABITS[property];
  if (habit !== undefined) throw new SessionNotLoadedError(`req.session.${property} is express-session's API, not Tessera's. Use ${habit}.`);
  const view = session[loadedView]();
  if (view !== undefined) return view;
  const name = JSON.stringify(property);
  const instead = access === "read" ? `await req.session.get(${name})` : `await req.session.set(${name}, value)`;
  throw new SessionNotLoadedError(
    `req.session.${property} was ${access === "read" ? "read" : "set"} before the session was loaded, so it would be ${access === "read" ? "undefined" : "lost"}. Call "await req.session.load()" once in the request first (then req.session.data.${property} works too), or use ${instead}.`,
  );
}
