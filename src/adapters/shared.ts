/**
 * The commit path every adapter shares: committing without a tick when no I/O is needed,
 * putting a CommitResult's `Set-Cookie` and `Vary` on the response, discarding what the handler
 * prepared when the commit fails, and the default answer to a session error (400 interrupted,
 * 503 store down). An adapter only maps its framework's response onto {@link ResponseHeaders}.
 * @module
 */
import { varyWithCookie } from "../cookie.js";
import { SessionError } from "../errors.js";
import type { CommitResult, Sessions } from "../manager.js";
import type { Logger } from "../options.js";
import { committed, type Session } from "../session.js";

/** A framework's response headers, as the commit path needs them. */
export interface ResponseHeaders {
  /** The current value (a list for a repeated header), or nothing. */
  get(name: string): string | number | readonly string[] | null | undefined;
  /** Replaces the header. */
  set(name: string, value: string): void;
  /** Adds one more value (for Set-Cookie). */
  append(name: string, value: string): void;
  /** The names of every header set so far. */
  names(): Iterable<string>;
  remove(name: string): void;
}

/**
 * The session committed with `status`: the result at once when committing needs no I/O (the
 * session was not modified), else the promise of it. Untouched and read-only requests then go
 * out without an extra tick.
 */
// the data type plays no part in committing
export function commitNowOrLater(sessions: Sessions<any>, session: Session<any>, status: number): CommitResult | Promise<CommitResult> {
  return sessions.tryCommitSync(session, status) ?? sessions.commit(session, status);
}

/**
 * Adds the session's `Vary: Cookie` (merged with the handler's Vary) and `Set-Cookie` to
 * `headers`, then any extra `Set-Cookie` (a migration clearing the old framework's cookie).
 */
export function applyCommit(headers: ResponseHeaders, { setCookie, varyCookie, extraSetCookies }: CommitResult): void {
  if (varyCookie) headers.set("Vary", varyWithCookie(headers.get("Vary") ?? undefined));
  if (setCookie !== undefined) headers.append("Set-Cookie", setCookie);
  if (extraSetCookies !== undefined) for (const cookie of extraSetCookies) headers.append("Set-Cookie", cookie);
}

/** Removes every header the handler prepared (a redirect's Location...): none may leak into the error answer. */
export function discardPrepared(headers: ResponseHeaders): void {
  for (const name of [...headers.names()]) headers.remove(name);
}

/**
 * True the first time it is asked for `session`, false afterwards: a session is committed once
 * per request (Django's process_response runs once), even when a framework runs its response
 * hook again for an error response.
 */
export function firstCommit(session: Session<any>): boolean {
  if (session[committed]) return false;
  session[committed] = true;
  return true;
}

/** The HTTP status a session failure is answered with: the error's own (400, 503...), else 500. */
export function failureStatus(error: unknown): number {
  if (error instanceof SessionError) return error.status;
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === "number" && status >= 400 && status <= 599 ? status : 500;
}

/**
 * The default answer to a session failure: its status, a short plain text, `no-store`. A
 * server-side failure (5xx) is logged; a 400 for an interrupted session is the visitor's race.
 */
export function failureAnswer(error: unknown, logger: Logger): { status: number; body: string; headers: Record<string, string> } {
  const status = failureStatus(error);
  if (status >= 500) logger.error(`[tessera] The session failed; answering ${status}.`, error);
  return { status, body: failureText(status), headers: { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" } };
}

/** The short text a session failure's status is answered with. */
export function failureText(status: number): string {
  return status === 400 ? "Bad Request: session interrupted" : status === 503 ? "Service Unavailable" : "Internal Server Error";
}

/** A Fetch `Headers` as {@link ResponseHeaders}. */
export function fetchHeaders(headers: Headers): ResponseHeaders {
  return {
    get: (name) => headers.get(name),
    set: (name, value) => headers.set(name, value),
    append: (name, value) => headers.append(name, value),
    names: () => new Set(headers.keys()),
    remove: (name) => headers.delete(name),
  };
}
