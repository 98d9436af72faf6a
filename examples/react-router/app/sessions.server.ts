/**
 * The shop's sessions as React Router's SessionStorage (one line swaps any other storage for it),
 * its CSRF helper, and the form check every POST goes through.
 * @module
 */
import { createSessions, type Session } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { createCsrf } from "tessera-sessions/csrf";
import { tesseraSessionStorage } from "tessera-sessions/react-router";
import { readForm } from "../../shared/http.js";
import { FORGED_FORM, shopSecret, type ShopSession } from "../../shared/shop.js";

const sessions = createSessions<ShopSession>({
  backend: memoryBackend(), // or databaseBackend({ url: "sqlite:sessions.sqlite3" }) from "tessera-sessions/backends/db"
  cookie: { secure: false }, // plain http on localhost: a Secure cookie would never be sent back
  secret: shopSecret(),
});

export const storage = tesseraSessionStorage<ShopSession>(sessions);
export const { getSession, commitSession, destroySession } = storage;
export const csrf = createCsrf(sessions); // every form carries a token; every POST must return it

export const text = (body: string, status: number) => new Response(body, { status, headers: { "Content-Type": "text/plain; charset=utf-8" } });

/** The request's session (React Router's) and the Tessera session behind it. */
export async function sessionOf(request: Request) {
  const session = await getSession(request.headers.get("Cookie"));
  return { session, tessera: storage.tesseraSession(session) as Session<ShopSession> };
}

/** The form of a POST, or the answer: 413/415 for a body that is not a small form, 403 without a valid CSRF token. */
export async function checkedForm(request: Request, tessera: Session<ShopSession>): Promise<URLSearchParams | Response> {
  const form = await readForm(request.headers.get("content-type"), unclosed(request.body));
  if (!(form instanceof URLSearchParams)) return text(form.message, form.status);
  return (await csrf.verify(request.headers.get("Cookie"), form.get(csrf.fieldName), tessera)) ? form : text(FORGED_FORM, 403);
}

/**
 * The body's chunks, without cancelling the body when the reader stops early (a 413): a cancel
 * would reset the connection before the client has sent its request, so it never sees the 413.
 */
async function* unclosed(body: ReadableStream<Uint8Array> | null): AsyncIterable<Uint8Array> {
  const reader = body?.getReader();
  for (;;) {
    const chunk = await reader?.read();
    if (chunk === undefined || chunk.done) return;
    yield chunk.value;
  }
}
