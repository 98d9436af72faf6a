/**
 * The Next.js adapter (App Router, Next 15 and 16), over `next/headers` `cookies()`:
 *
 * - Server Components read the session with `await getSession()`. It is read-only, as Next
 *   allows there (the response headers are already decided): a write throws
 *   `ReadOnlySessionError`, saying to write from a Server Action or a route handler.
 * - Server Actions (and route handlers) change it inside `withSession(async (session) => …)`,
 *   which commits the session through `cookies()` when the callback returns, or redirects.
 * - Route handlers and `proxy.ts` (middleware) that hold the Request can use `route(handler)`:
 *   the Fetch adapter's exact headers (`Vary: Cookie` too) and its 503 on a store outage.
 *
 * Every session is lazy: a page that never reads its session costs no store call.
 * The Pages Router is plain node:http: use `tessera-sessions/node` (see the README).
 * @module
 */
import { cookies } from "next/headers.js";
import { setCookieFields } from "../cookie.js";
import { ReadOnlySessionError } from "../errors.js";
import type { Sessions } from "../manager.js";
import type { RequestSessionData, Session } from "../session.js";
import { type FetchAdapterOptions, withSession as withRequestSession } from "./fetch.js";
import { commitNowOrLater } from "./shared.js";

/** What {@link nextSessions} gives: one way in for each kind of Next.js server code. */
export interface NextSessions<Data extends object = RequestSessionData> {
  /**
   * The request's session, read-only: for Server Components (and reads anywhere). One session
   * per request, so components that all call it load the record once. Writing to it throws
   * `ReadOnlySessionError`.
   */
  getSession(): Promise<Session<Data>>;
  /**
   * Runs `action` with the request's session, then saves it and sets or deletes its cookie
   * through `cookies()`. For Server Actions and route handlers, where Next lets cookies be set.
   * A `redirect()` or `notFound()` thrown inside still commits, then goes on to Next; any other
   * exception propagates and nothing is saved (as for any 5xx).
   * @example
   * async function addToCart(form: FormData) {
   *   "use server";
   *   await withSession(async (session) => {
   *     await session.set("cart", [...((await session.get("cart")) ?? []), String(form.get("item"))]);
   *   });
   *   redirect("/");
   * }
   */
  withSession<T>(action: (session: Session<Data>) => T | Promise<T>): Promise<T>;
  /**
   * A route handler (or `proxy.ts` function) with the session: the Fetch adapter's
   * `withSession` around `handler`, so the Response carries `Set-Cookie` and `Vary: Cookie`,
   * and a store outage is a 503 (`options.onError` to answer otherwise).
   * @example
   * export const GET = route(async (request, session) => Response.json({ cart: (await session.get("cart")) ?? [] }));
   */
  route<R extends Request, Context = unknown>(
    handler: (request: R, session: Session<Data>, context: Context) => Response | Promise<Response>,
    options?: FetchAdapterOptions,
  ): (request: R, context: Context) => Promise<Response>;
}

/** The cookie store `cookies()` resolves to, as far as this adapter uses it. */
type CookieStore = Awaited<ReturnType<typeof cookies>>;

/**
 * Binds `sessions` to Next.js. Call it once, in a server-only module, and export what it returns.
 * @example
 * // lib/session.ts
 * export const sessions = createSessions<{ username?: string; cart?: string[] }>();
 * export const { getSession, withSession, route } = nextSessions(sessions);
 */
export function nextSessions<Data extends object = RequestSessionData>(sessions: Sessions<Data>): NextSessions<Data> {
  // Keyed on the request's cookie store, which Next keeps for the whole request; the cookie
  // value is kept too, as a Server Action that set the cookie re-renders the page in the same request.
  const readOnly = new WeakMap<CookieStore, { header: string; session: Session<Data> }>();
  return {
    async getSession() {
      const store = await cookies();
      const header = store.toString();
      let opened = readOnly.get(store);
      if (opened === undefined || opened.header !== header) {
        opened = { header, session: readOnlyView(sessions.openFromHeader(header)) };
        readOnly.set(store, opened);
      }
      return opened.session;
    },

    async withSession(action) {
      const store = await cookies();
      const session = sessions.openFromHeader(store.toString());
      let result: Awaited<ReturnType<typeof action>>;
      try {
        result = await action(session);
      } catch (error) {
        const status = nextControlFlowStatus(error);
        if (status !== undefined) await commitTo(store, sessions, session, status);
        throw error;
      }
      await commitTo(store, sessions, session, 200);
      return result;
    },

    route(handler, options) {
      return (request, context) => withRequestSession(sessions, request, (session) => handler(request, session, context), options);
    },
  };
}

/** Saves `session` as the commit rules say and puts its cookie (or the cookie's deletion) on `store`. */
async function commitTo<Data extends object>(store: CookieStore, sessions: Sessions<Data>, session: Session<Data>, status: number): Promise<void> {
  const { setCookie } = await commitNowOrLater(sessions, session, status);
  // Vary: Cookie cannot be set from here; Next sends these responses with `Cache-Control: no-store`.
  // Next recomputes Expires from Max-Age with Date.now (the sessions' `clock` aside).
  if (setCookie !== undefined) store.set(setCookieFields(setCookie));
}

/**
 * The status a Next.js control-flow exception stands for: `redirect()` (its digest is
 * `NEXT_REDIRECT;type;url;status;`), `notFound()`/`forbidden()`/`unauthorized()`
 * (`NEXT_HTTP_ERROR_FALLBACK;status`). `undefined` for any other exception.
 * @internal
 */
export function nextControlFlowStatus(error: unknown): number | undefined {
  const digest = (error as { digest?: unknown } | null)?.digest;
  if (typeof digest !== "string") return undefined;
  const parts = digest.split(";");
  if (parts[0] === "NEXT_REDIRECT") return Number(parts[3]) || 307;
  if (parts[0] === "NEXT_HTTP_ERROR_FALLBACK") return Number(parts[1]) || 404;
  return undefined;
}

/** The Session methods that change it, refused by {@link readOnlyView} (reading flashes removes them). */
const WRITES = new Set<PropertyKey>([
  "set",
  "delete",
  "pop",
  "setDefault",
  "update",
  "clear",
  "flush",
  "cycleKey",
  "setExpiry",
  "save",
  "create",
  "setUser",
  "setTestCookie",
  "deleteTestCookie",
  "flash",
  "flashes",
]);

/** `happened` is e.g. "session.set() was called" or "session.data.cart was set". */
function readOnlyError(happened: string): ReadOnlySessionError {
  return new ReadOnlySessionError(
    `${happened} where the session is read-only (getSession(), e.g. in a Server Component, where Next.js cannot set cookies). ` +
      "Change the session in a Server Action or a route handler, inside withSession(async (session) => ...).",
  );
}

/** A property write (`session.data.cart = …`, plain `session.cart = …`) on a read-only session. */
function refuseWrite(name: string, done = "set"): never {
  throw readOnlyError(`${name} was ${done}`);
}

/**
 * `session`, with every method that would change it rejecting with `ReadOnlySessionError`.
 * @internal
 */
export function readOnlyView<Data extends object>(session: Session<Data>): Session<Data> {
  return new Proxy(session, {
    get(target, property) {
      if (WRITES.has(property)) return () => Promise.reject(readOnlyError(`session.${String(property)}() was called`));
      // `session.data` reads as usual; assigning to it or deleting from it is refused.
      if (property === "data") {
        return new Proxy(target.data, {
          set: (_data, name) => refuseWrite(`session.data.${String(name)}`),
          deleteProperty: (_data, name) => refuseWrite(`session.data.${String(name)}`, "deleted"),
          defineProperty: (_data, name) => refuseWrite(`session.data.${String(name)}`),
        });
      }
      // The Session's private fields need the real object as `this`.
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
    set: (_target, property) => refuseWrite(`session.${String(property)}`),
  });
}
