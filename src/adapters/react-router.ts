/**
 * React Router 7 (and Remix): a `SessionStorage` backed by any Tessera backend. An app swaps its
 * storage in one line and keeps its loaders and actions as they are:
 *
 * ```ts
 * // app/sessions.server.ts
 * export const { getSession, commitSession, destroySession } = tesseraSessionStorage(sessions);
 * ```
 *
 * The session key is Tessera's (random, stored hashed, cookie attributes from the sessions'
 * options); `commitSession` writes only the keys the request changed (merged with concurrent
 * requests' writes), and the sessions show in the admin. Flash values behave as React Router
 * defines them: `get` of a flashed name returns it once, and the next commit removes it.
 * @module
 */
import { createSession, type Session as RouterSession, type SessionStorage } from "react-router";
import { deletionCookie } from "../cookie.js";
import { SessionError } from "../errors.js";
import { hashKey } from "../keys.js";
import type { Sessions } from "../manager.js";
import type { RequestSessionData, Session } from "../session.js";
import { failureResponse } from "./web.js";

/** Cookie options React Router passes to `commitSession`; Tessera reads the expiry from them. */
export interface CommitOptions {
  /** Seconds the session lives from now (e.g. a "remember me" login): `session.setExpiry(maxAge)`. */
  maxAge?: number;
  /** When the session ends: `session.setExpiry(expires)`. */
  expires?: Date;
}

/** The storage {@link tesseraSessionStorage} returns: React Router's interface, plus the Tessera session. */
export interface TesseraSessionStorage<Data extends object = RequestSessionData, FlashData = Data> extends SessionStorage<Data, FlashData> {
  commitSession(session: RouterSession<Data, FlashData>, options?: CommitOptions): Promise<string>;
  /**
   * The Tessera session behind a session from `getSession`, for what React Router's has no word
   * for: `cycleKey()` on login, `setUser()`, `setExpiry()`. Its changes are saved by `commitSession`.
   */
  tesseraSession(session: RouterSession<Data, FlashData>): Session<Data>;
}

/** What `getSession` read, to know at commit time what the request changed. */
interface Loaded<Data extends object> {
  readonly session: Session<Data>;
  snapshot: Map<string, string>;
}

/**
 * A React Router `SessionStorage` on Tessera sessions. `getSession` loads the session for the
 * request's `Cookie` header (a tampered or unknown cookie: an empty session, logged);
 * `commitSession` saves it and returns its `Set-Cookie` value; `destroySession` deletes the
 * record and returns the deletion cookie. The session's `id` is the id the admin and
 * `listForUser` show (the key's hash), or `""` for a new session.
 *
 * A session failure is thrown as a Response with its status (the store down: 503; the session
 * deleted during the request: 400), which React Router answers as a route error response.
 * `commitSession` returns one cookie, so a `migrateFrom` removal of the old framework's cookie
 * (`extraSetCookies`) is not sent.
 *
 * @example
 * export async function action({ request }: Route.ActionArgs) {
 *   const session = await getSession(request.headers.get("Cookie"));
 *   session.set("userId", await login(request));
 *   session.flash("notice", "Signed in");
 *   return redirect("/", { headers: { "Set-Cookie": await commitSession(session) } });
 * }
 */
export function tesseraSessionStorage<Data extends object = RequestSessionData, FlashData = Data>(
  sessions: Sessions<Data>,
): TesseraSessionStorage<Data, FlashData> {
  const loaded = new WeakMap<object, Loaded<Data>>();
  const failing = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      if (error instanceof SessionError) throw failureResponse(error, sessions.options.logger);
      throw error;
    }
  };
  /** What getSession read; a session made elsewhere (React Router's `createSession`) starts new. */
  const stateOf = (routerSession: RouterSession<Data, FlashData>): Loaded<Data> => {
    const state = loaded.get(routerSession) ?? { session: sessions.open(), snapshot: new Map<string, string>() };
    loaded.set(routerSession, state);
    return state;
  };

  return {
    getSession: (cookieHeader) =>
      failing(async () => {
        const session = sessions.openFromHeader(cookieHeader ?? undefined);
        const items = await session.items();
        const key = session.sessionKey;
        const routerSession = createSession<Data, FlashData>(Object.fromEntries(items) as Data, key === null ? "" : hashKey(key));
        loaded.set(routerSession, { session, snapshot: snapshotOf(items) });
        return routerSession;
      }),

    commitSession: (routerSession, options) =>
      failing(async () => {
        const state = stateOf(routerSession);
        // React Router's data holds flash entries too: written by name, like any other.
        const session = state.session as unknown as Session<Record<string, unknown>>;
        const entries = Object.entries(routerSession.data as Record<string, unknown>);
        for (const [name, value] of entries) if (state.snapshot.get(name) !== JSON.stringify(value)) await session.set(name, value);
        const present = new Set(entries.map(([name]) => name));
        for (const name of state.snapshot.keys()) if (!present.has(name)) await session.delete(name);
        if (options?.maxAge !== undefined) await session.setExpiry(options.maxAge);
        else if (options?.expires !== undefined) await session.setExpiry(options.expires);
        // React Router's contract: commitSession stores the session and gives a cookie, so an
        // unchanged session is saved too (its expiry renewed).
        session.modified = true;
        const { setCookie } = await sessions.commit(state.session, 200);
        state.snapshot = snapshotOf(entries);
        // An empty session is not kept (Django's rule): the cookie then says there is none.
        return setCookie ?? deletionCookie(sessions.options);
      }),

    destroySession: (routerSession) =>
      failing(async () => {
        const session = loaded.get(routerSession)?.session;
        await session?.flush();
        loaded.delete(routerSession);
        return deletionCookie(sessions.options);
      }),

    tesseraSession: (routerSession) => stateOf(routerSession).session,
  };
}

/** Each value as JSON, to compare with what the request leaves (values are JSON in Tessera). */
function snapshotOf(entries: Iterable<readonly [string, unknown]>): Map<string, string> {
  const snapshot = new Map<string, string>();
  for (const [name, value] of entries) snapshot.set(name, JSON.stringify(value));
  return snapshot;
}
