/**
 * `tessera-sessions/admin`: a server-rendered page to list, search, inspect and delete sessions.
 *
 * `createAdmin` returns a Fetch-style handler, `(request: Request) => Promise<Response>`, so it
 * mounts anywhere: directly in Next.js, Hono, Bun or Deno, and through `toNodeHandler` in
 * node:http, Express, Koa or Fastify. No front-end build, no template engine, and it works
 * without JavaScript.
 *
 * Security:
 * - `authorize(request)` is required; a visitor it refuses is passed on to the host app (see
 *   `isRefusal`; `toNodeHandler` calls `next()`), so the app's own 404 answers and the page's
 *   existence is not revealed.
 * - Every response is `Cache-Control: no-store`, with a nonce-based Content-Security-Policy
 *   that also forbids framing.
 * - No page ever holds a usable session key: sessions are named by their id, the SHA-256 the
 *   store keeps. A pasted key is posted (never put in a URL), hashed, and looked up by id.
 * - CSRF: every action is a POST carrying a signed double-submit token. The admin sets a random
 *   cookie (`HttpOnly`, `SameSite=Strict`, scoped to `basePath`), and each form carries
 *   HMAC-SHA256(csrf key, cookie value), compared in constant time. Another site can neither
 *   read the token nor mint one for a cookie it planted, because it lacks the key. The key is
 *   `csrfSecret`, else derived from the sessions' newest secret, else random per process (then
 *   forms do not survive a restart or another process behind the same load balancer).
 * - Every destructive action asks first: a `confirm()` dialog with JavaScript, a confirmation
 *   page without.
 * @module
 */
import { Buffer } from "node:buffer";
import { randomBytes } from "node:crypto";
import type { SessionBackend, SessionListPage, StoredSession } from "../backends/base.js";
import { decodeCursor } from "../backends/listing.js";
import { csrfProtection, deriveCsrfKey } from "../csrf.js";
import { BackendError, ConfigurationError } from "../errors.js";
import { gatewayOf, type BackendGateway } from "../gateway.js";
import type { Logger } from "../options.js";
import { constantTimeEqual, hashKey, isSessionId, isValidKey, secretProblem, SESSION_ID_SOURCE } from "../keys.js";
import { html, layout, shortId, size, time, type Html } from "./html.js";
import { refusal } from "./refusal.js";

export { toNodeHandler, type NodeHandler } from "./node.js";
export { isRefusal } from "./refusal.js";

/** What the host framework passes along with the request (set by `toNodeHandler`). */
export interface AdminContext {
  /**
   * The node:http request the Fetch `Request` was made from, with whatever the app's middleware
   * put on it (e.g. Express's `req.session`), for `authorize` to inspect.
   */
  readonly node?: import("node:http").IncomingMessage;
}

/** The admin handler: one Fetch-style function. */
export type AdminHandler = (request: Request, context?: AdminContext) => Promise<Response>;

/** Options of {@link createAdmin}. */
export interface AdminOptions {
  /** The object `createSessions` returned. */
  sessions: {
    readonly options: {
      readonly backend: SessionBackend;
      readonly backendTimeoutMs: number;
      readonly clock: () => number;
      readonly logger: Logger;
      readonly secrets: readonly string[];
    };
    clearExpired(): Promise<number>;
  };
  /**
   * Decides who may use the page (e.g. "is the request's user staff?"). Required: the admin
   * refuses to exist without it. A refused visitor gets the host app's 404 (see `isRefusal`).
   * @example authorize: async (request) => (await sessions.openFromHeader(request.headers.get("cookie") ?? undefined).get("role")) === "staff"
   */
  authorize: (request: Request, context: AdminContext) => boolean | Promise<boolean>;
  /**
   * Where the page is mounted; requests outside it get 404.
   * @default "/admin/sessions"
   */
  basePath?: string;
  /**
   * Sessions per page.
   * @default 50
   */
  pageSize?: number;
  /**
   * The key for CSRF tokens (32+ bytes). Set it when several processes serve the admin and the
   * sessions have no `secret`.
   * @default derived from the sessions' secret, else random per process
   */
  csrfSecret?: string;
  /**
   * A link back to the host app, shown at the top of every admin page.
   * @example backLink: { href: "/dashboard", label: "Back to the shop" }
   */
  backLink?: { readonly href: string; readonly label: string };
}

const CSRF_COOKIE = "tessera_admin_csrf";
/** `/session/<id>`: one session's page. */
const DETAIL_PATH = new RegExp(`^/session/(${SESSION_ID_SOURCE})$`);
const MAX_FORM_BYTES = 64 * 1024;
type State = "active" | "expired" | "all";
type Listed = StoredSession & { readonly id: string };

/**
 * Creates the admin handler. Throws `ConfigurationError` without `authorize`.
 *
 * @example
 * // Express (or node:http), behind the app's own login:
 * const admin = createAdmin({
 *   sessions,
 *   authorize: async (_request, { node }) => (await (node as RequestWithSession).session.get("staff")) === true,
 * });
 * app.use("/admin/sessions", toNodeHandler(admin));
 *
 * @example
 * // A Fetch runtime (Next.js route handler at app/admin/sessions/[[...path]]/route.ts):
 * export const GET = admin, POST = admin;
 */
export function createAdmin(options: AdminOptions): AdminHandler {
  if (typeof options?.authorize !== "function") {
    throw new ConfigurationError(
      "createAdmin needs an authorize(request) function that says who may see the session admin, e.g. authorize: (request) => isStaff(request). Without one the page would be open to everyone, so it refuses to mount.",
    );
  }
  const sessions = options.sessions;
  if (typeof sessions?.options?.clock !== "function") throw new ConfigurationError("createAdmin needs sessions: the object createSessions returned.");
  const mount = options.basePath ?? "/admin/sessions";
  if (typeof mount !== "string" || !mount.startsWith("/"))
    throw new ConfigurationError(`createAdmin basePath must start with "/" (it is ${JSON.stringify(mount)}).`);
  const base = mount.replace(/\/+$/, ""); // "" when mounted at the root
  const pageSize = options.pageSize ?? 50;
  const { backLink } = options;
  if (
    backLink !== undefined &&
    (typeof backLink.href !== "string" || !/^(\/(?!\/)|https?:\/\/)/.test(backLink.href) || typeof backLink.label !== "string" || backLink.label === "")
  ) {
    throw new ConfigurationError('createAdmin backLink must be { href, label } with href a path ("/dashboard") or an http(s) URL, and a label.');
  }
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000)
    throw new ConfigurationError("createAdmin pageSize must be a whole number from 1 to 1000.");
  const secretIssue = options.csrfSecret === undefined ? undefined : secretProblem(options.csrfSecret);
  if (secretIssue !== undefined) throw new ConfigurationError(`createAdmin csrfSecret ${secretIssue}`);
  const csrfKey =
    options.csrfSecret ??
    (sessions.options.secrets[0] !== undefined ? deriveCsrfKey(sessions.options.secrets[0], "tessera.admin.csrf") : randomBytes(32).toString("base64url"));
  // The app-facing CSRF helper's core, on the admin's own cookie (scoped to the page, SameSite=Strict).
  const csrf = csrfProtection({ key: csrfKey, cookieName: CSRF_COOKIE, path: base || "/", sameSite: "strict" });
  const { backend } = sessions.options;
  // Every store call goes through the sessions' gateway: bounded by backendTimeoutMs, a BackendError on failure.
  const store = gatewayOf(sessions.options);

  return async (request, context = {}) => {
    const url = new URL(request.url);
    const path = url.pathname;
    if (path !== base && !path.startsWith(`${base}/`)) return notFound();
    if (!(await options.authorize(request, context))) return notFound();
    const rest = path.slice(base.length) || "/";
    const method = request.method === "HEAD" ? "GET" : request.method;

    // The CSRF cookie: reuse the browser's, or issue one with this response.
    const cookieHeader = request.headers.get("cookie");
    const issued = await csrf.issue(cookieHeader, undefined, { secure: url.protocol === "https:" });
    const page: Page = {
      base,
      backLink,
      now: sessions.options.clock(),
      nonce: randomBytes(16).toString("base64"),
      csrf: issued.token,
      // Bound to this browser's CSRF token: a link cannot forge a notice, nor replay one elsewhere.
      noticeMac: (fields) => csrf.sign(["notice", issued.token, fields.notice, fields.count ?? "", fields.user ?? ""].join("\n")),
      backendName: backend.name,
    };
    const tell = (fields: NoticeFields) => redirect(base, { ...fields, sig: page.noticeMac(fields) });
    const respond = (response: Response) => {
      if (issued.setCookie !== undefined) response.headers.append("Set-Cookie", issued.setCookie);
      return response;
    };

    const answer = async (): Promise<Response> => {
      if (method === "GET") {
        if (!store.supports("listSessions")) return respond(htmlResponse(page, "Sessions", cannotList(page, store), 200));
        if (rest === "/") {
          // A cursor that does not decode would silently show the first page again.
          const after = url.searchParams.get("after");
          if (after !== null && decodeCursor(after) === undefined) {
            return respond(
              htmlResponse(
                page,
                "Bad request",
                message(page, "This page link is not valid.", "Its “after” cursor was changed or cut short. Start again from the newest sessions."),
                400,
              ),
            );
          }
          return respond(htmlResponse(page, "Sessions", await listPage(page, store, url.searchParams, pageSize), 200));
        }
        const detail = DETAIL_PATH.exec(rest);
        if (detail) {
          const found = await store.listSessions({ limit: 1, id: detail[1] as string, state: "all", now: page.now });
          const record = found.sessions[0];
          if (record === undefined) return respond(htmlResponse(page, "Session not found", goneBody(page), 404));
          return respond(htmlResponse(page, `Session ${shortId(record.id)}`, detailPage(page, store, record), 200));
        }
        return respond(htmlResponse(page, "Not found", goneBody(page), 404));
      }

      if (method !== "POST")
        return withSecurityHeaders(
          new Response("Method Not Allowed", { status: 405, headers: { Allow: "GET, HEAD, POST", "Content-Type": "text/plain; charset=utf-8" } }),
          page.nonce,
        );
      const form = await readForm(request);
      if (form === undefined)
        return respond(htmlResponse(page, "Bad request", message(page, "The form could not be read.", "It was not a form post, or it was too large."), 400));
      if (!(await csrf.verify(cookieHeader, form.get(csrf.fieldName)))) {
        return respond(
          htmlResponse(
            page,
            "Form expired",
            message(page, "This form has expired or came from another site.", "Nothing was changed. Go back, reload the page and try again."),
            403,
          ),
        );
      }
      const confirmed = form.get("confirmed") === "1";

      switch (rest) {
        case "/find": {
          // The pasted key arrives in the body, is hashed here, and only its id goes into the URL.
          const entered = (form.get("key") ?? "").trim();
          const id = isValidKey(entered) ? hashKey(entered) : isSessionId(entered) ? entered : undefined;
          return id === undefined ? tell({ notice: "badkey" }) : redirect(base, { id });
        }
        case "/delete": {
          if (!store.supports("deleteById")) break;
          const ids = [...new Set(form.getAll("id"))].filter(isSessionId);
          if (ids.length === 0) return tell({ notice: "none" });
          if (!confirmed)
            return respond(
              confirmPage(
                page,
                "/delete",
                ids.length === 1 ? "Delete this session?" : `Delete ${ids.length} sessions?`,
                "Whoever uses them is signed out at their next request.",
                ids.map((id) => ["id", id]),
              ),
            );
          for (const id of ids) await store.deleteById(id);
          return tell({ notice: "deleted", count: String(ids.length) });
        }
        case "/clear-expired": {
          if (!confirmed)
            return respond(confirmPage(page, "/clear-expired", "Delete all expired sessions?", "They can no longer be used; this only frees their space.", []));
          const count = await store.clearExpired(page.now);
          return tell({ notice: "cleared", count: String(count) });
        }
        case "/end-user": {
          if (!store.supports("deleteByUser")) break;
          const user = form.get("user") ?? "";
          if (user === "") return tell({ notice: "none" });
          if (!confirmed)
            return respond(
              confirmPage(page, "/end-user", `End every session of user ${user}?`, "The user is signed out on every device at their next request.", [
                ["user", user],
              ]),
            );
          const count = await store.deleteByUser(user);
          return tell({ notice: "ended", count: String(count), user });
        }
      }
      return respond(htmlResponse(page, "Not found", goneBody(page), 404));
    };
    try {
      return await answer();
    } catch (error) {
      // The store is down or did not answer in time: say so with a 503 page, as the adapters do.
      if (!(error instanceof BackendError)) throw error;
      sessions.options.logger.error("[tessera] The session admin could not reach the session store.", error);
      return respond(
        htmlResponse(
          page,
          "Session store unavailable",
          message(page, "The session store did not answer.", `The ${backend.name} store is down or overloaded; nothing was changed. Try again in a moment.`),
          503,
        ),
      );
    }
  };
}

/** What every page needs. */
interface Page {
  readonly base: string;
  readonly backLink: AdminOptions["backLink"];
  readonly now: number;
  readonly nonce: string;
  /** The CSRF token for this browser's cookie. */
  readonly csrf: string;
  /** The MAC that lets a notice's text (and its counts) be shown: only the admin's own redirects carry it. */
  readonly noticeMac: (fields: NoticeFields) => string;
  readonly backendName: string;
}

/** The answer to anything unauthorized or outside the page: the host's own 404 where the mount passes it on. */
function notFound(): Response {
  return refusal();
}

function htmlResponse(page: Page, title: string, body: Html, status: number): Response {
  const text = layout({ title, nonce: page.nonce, body, home: `${page.base}/`, backLink: page.backLink });
  return withSecurityHeaders(new Response(text, { status, headers: { "Content-Type": "text/html; charset=utf-8" } }), page.nonce);
}

function withSecurityHeaders(response: Response, nonce: string): Response {
  const h = response.headers;
  h.set("Cache-Control", "no-store");
  h.set(
    "Content-Security-Policy",
    `default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
  );
  h.set("X-Content-Type-Options", "nosniff");
  h.set("Referrer-Policy", "no-referrer");
  h.set("X-Frame-Options", "DENY");
  return response;
}

/** 303 back to the list, with a notice or a filter in the query. */
function redirect(base: string, query: Record<string, string>): Response {
  return new Response(null, { status: 303, headers: { Location: `${base}/?${new URLSearchParams(query).toString()}`, "Cache-Control": "no-store" } });
}

/** The form fields of a urlencoded POST, read with a size limit; `undefined` for anything else. */
async function readForm(request: Request): Promise<URLSearchParams | undefined> {
  if (!(request.headers.get("content-type") ?? "").toLowerCase().startsWith("application/x-www-form-urlencoded")) return undefined;
  const reader = request.body?.getReader();
  if (reader === undefined) return new URLSearchParams();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > MAX_FORM_BYTES) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

function href(page: Page, path: string, query: Record<string, string | undefined> = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== "") params.set(k, v);
  const search = params.toString();
  return `${page.base}${path}${search === "" ? "" : `?${search}`}`;
}

function csrfField(page: Page): Html {
  return html`<input type="hidden" name="csrf" value="${page.csrf}">`;
}

/** A form whose submission is confirmed first (dialog with JavaScript, a confirmation page without). */
function actionForm(page: Page, action: string, question: string, fields: readonly (readonly [string, string])[], button: Html): Html {
  return html`<form method="post" action="${page.base}${action}" data-confirm="${question}">${csrfField(page)}<input type="hidden" name="confirmed" value="">${fields.map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}${button}</form>`;
}

/** What a redirect after an action tells the list page to show. */
interface NoticeFields {
  readonly notice: string;
  readonly count?: string;
  readonly user?: string;
}

// A Map, not an object literal: `?notice=__proto__` or `constructor` must find nothing.
const NOTICES = new Map<string, (count: number, user: string) => string>([
  ["deleted", (n) => `Deleted ${n} ${n === 1 ? "session" : "sessions"}.`],
  ["cleared", (n) => `Deleted ${n} expired ${n === 1 ? "session" : "sessions"}.`],
  ["ended", (n, user) => `Ended ${n} ${n === 1 ? "session" : "sessions"} of user ${user}.`],
  ["none", () => "Nothing was selected."],
  ["badkey", () => "That is not a session key. Keys are 8 to 40 characters of a–z and 0–9 (or paste a 64-character session id)."],
]);

/** The notice the query asks for, if the admin's own redirect signed it; otherwise none. */
function noticeText(page: Page, query: URLSearchParams): string | undefined {
  const fields: NoticeFields = { notice: query.get("notice") ?? "", count: query.get("count") ?? "", user: query.get("user") ?? "" };
  const describe = NOTICES.get(fields.notice);
  if (describe === undefined || !constantTimeEqual(query.get("sig") ?? "", page.noticeMac(fields))) return undefined;
  return describe(Number(fields.count) || 0, fields.user ?? "");
}

function parseState(value: string | null): State {
  return value === "active" || value === "expired" ? value : "all";
}

async function listPage(page: Page, store: BackendGateway, query: URLSearchParams, pageSize: number): Promise<Html> {
  const state = parseState(query.get("state"));
  const user = query.get("user") ?? "";
  const idParam = query.get("id") ?? "";
  const id = isSessionId(idParam) ? idParam : undefined;
  const after = query.get("after") ?? undefined;
  const result: SessionListPage = await store.listSessions({
    limit: pageSize,
    state,
    now: page.now,
    ...(user !== "" ? { userId: user } : {}),
    ...(id !== undefined ? { id } : {}),
    ...(after !== undefined ? { after } : {}),
  });
  const notice = noticeText(page, query);
  // Offer "Delete all expired" only when there is something to delete anywhere in the store, not
  // only among the rows shown (a user filter, a later page). The page itself answers when it shows
  // an expired session, or is the unfiltered first page of the expired ones; otherwise one
  // `limit: 1` query asks (newest first on the (expires_at) index: one index probe, not a scan).
  const shownExpired = result.sessions.some((s) => s.expiresAt <= page.now);
  const listsAllExpired = state === "expired" && user === "" && id === undefined && after === undefined;
  const anyExpired = shownExpired || (!listsAllExpired && (await store.listSessions({ limit: 1, state: "expired", now: page.now })).sessions.length > 0);
  const filters = { state: state === "all" ? undefined : state, user: user || undefined, id };
  // No checkboxes, "select all" or "Delete selected" on an empty list: there is nothing to select.
  const canDelete = store.supports("deleteById") && result.sessions.length > 0;

  const rows = result.sessions.map((s) => {
    const active = s.expiresAt > page.now;
    return html`<tr>
${canDelete ? html`<td><input type="checkbox" name="id" value="${s.id}" aria-label="Select session ${shortId(s.id)}"></td>` : false}
<td><a class="mono" href="${href(page, `/session/${s.id}`)}">${shortId(s.id)}</a></td>
<td>${time(s.createdAt)}</td><td>${time(s.updatedAt)}</td><td>${time(s.expiresAt)}</td>
<td>${s.userId === null ? html`<span class="muted">—</span>` : html`<a href="${href(page, "/", { user: s.userId })}">${s.userId}</a>`}</td>
<td class="num">${size(s.data)}</td>
<td><span class="badge ${active ? "active" : "expired"}">${active ? "Active" : "Expired"}</span></td></tr>`;
  });

  const emptyText = id !== undefined ? "No session has that key (or it was deleted)." : "No sessions match.";
  const table = html`<div class="table"><table><thead><tr>${canDelete ? html`<th><input type="checkbox" data-select-all aria-label="Select all"></th>` : false}<th>Session</th><th>Created</th><th>Last activity</th><th>Expires</th><th>User</th><th class="num">Size</th><th>Status</th></tr></thead>
<tbody>${rows.length > 0 ? rows : html`<tr><td class="empty" colspan="8">${emptyText}</td></tr>`}</tbody></table></div>`;

  const pager = html`<div class="pager">${after !== undefined ? html`<a class="button" href="${href(page, "/", filters)}">← Newest</a>` : false}${result.next !== undefined ? html`<a class="button" rel="next" href="${href(page, "/", { ...filters, after: result.next })}">Older →</a>` : false}</div>`;

  const selection = canDelete
    ? html`<form method="post" action="${page.base}/delete" data-confirm="Delete the selected sessions? Whoever uses them is signed out.">${csrfField(page)}<input type="hidden" name="confirmed" value="">${table}<div class="bar"><button class="danger" type="submit">Delete selected</button>${pager}</div></form>`
    : html`${table}<div class="bar"><span></span>${pager}</div>`;

  return html`<h1>Sessions</h1><p class="sub">Newest first, in the <strong>${page.backendName}</strong> store. Sessions are named by id (the hash the store keeps), never by key.</p>
${notice !== undefined ? html`<div class="notice" role="status">${notice}</div>` : false}
${id !== undefined ? html`<div class="notice">Showing the session for the key you entered. <a href="${href(page, "/")}">Show all</a></div>` : false}
<div class="card toolbar">
<form method="get" action="${page.base}/"><label>User id<input type="text" name="user" value="${user}" placeholder="any user"></label>
<label>Status<select name="state">${(["all", "active", "expired"] as const).map((s) => html`<option value="${s}"${s === state ? { html: " selected" } : false}>${s === "all" ? "All" : s === "active" ? "Active" : "Expired"}</option>`)}</select></label>
<button class="primary" type="submit">Filter</button>${user !== "" || state !== "all" || id !== undefined ? html`<a class="button" href="${href(page, "/")}">Reset</a>` : false}</form>
<form method="post" action="${page.base}/find">${csrfField(page)}<label>Find by session key<input type="password" name="key" autocomplete="off" spellcheck="false" placeholder="paste a key"></label><button type="submit">Find</button></form>
</div>
<div class="actions">
${anyExpired ? actionForm(page, "/clear-expired", "Delete every expired session?", [], html`<button class="danger" type="submit">Delete all expired</button>`) : false}
${user !== "" && store.supports("deleteByUser") ? actionForm(page, "/end-user", `End every session of user ${user}?`, [["user", user]], html`<button class="danger" type="submit">End all sessions of user ${user}</button>`) : false}
</div>
${selection}`;
}

function detailPage(page: Page, store: BackendGateway, s: Listed): Html {
  const active = s.expiresAt > page.now;
  let data: Html;
  try {
    const parsed: unknown = JSON.parse(s.data);
    const count = typeof parsed === "object" && parsed !== null ? Object.keys(parsed).length : 0;
    data = html`<p class="muted">${count} ${count === 1 ? "key" : "keys"}</p><pre>${JSON.stringify(parsed, null, 2)}</pre>`;
  } catch {
    data = html`<p class="muted">The stored data is not valid JSON; shown as stored.</p><pre>${s.data}</pre>`;
  }
  return html`<div class="crumbs"><a href="${page.base}/">Sessions</a> › <span class="mono">${shortId(s.id)}</span></div>
<h1>Session <span class="mono">${shortId(s.id)}</span></h1><p class="sub"><span class="badge ${active ? "active" : "expired"}">${active ? "Active" : "Expired"}</span></p>
<div class="card"><dl>
<dt>Id</dt><dd class="mono">${s.id}</dd>
<dt>User</dt><dd>${s.userId === null ? html`<span class="muted">none</span>` : html`<a href="${href(page, "/", { user: s.userId })}">${s.userId}</a>`}</dd>
<dt>Created</dt><dd>${time(s.createdAt)}</dd>
<dt>Last activity</dt><dd>${time(s.updatedAt)}</dd>
<dt>Expires</dt><dd>${time(s.expiresAt)}</dd>
<dt>Size</dt><dd>${size(s.data)}</dd>
<dt>Version</dt><dd>${s.version}</dd>
</dl></div>
<div class="card"><h2 class="h2">Data</h2>${data}</div>
<div class="actions">
${store.supports("deleteById") ? actionForm(page, "/delete", "Delete this session? Whoever uses it is signed out.", [["id", s.id]], html`<button class="danger" type="submit">Delete this session</button>`) : false}
${s.userId !== null && store.supports("deleteByUser") ? actionForm(page, "/end-user", `End every session of user ${s.userId}?`, [["user", s.userId]], html`<button class="danger" type="submit">End all sessions of user ${s.userId}</button>`) : false}
</div>`;
}

/** The no-JavaScript confirmation: the same post again, with `confirmed=1`. */
function confirmPage(page: Page, action: string, question: string, detail: string, fields: readonly (readonly [string, string])[]): Response {
  const body = html`<h1>${question}</h1><p class="sub">${detail}</p>
<div class="card actions"><form method="post" action="${page.base}${action}">${csrfField(page)}<input type="hidden" name="confirmed" value="1">${fields.map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}<button class="danger solid" type="submit">Yes, continue</button></form>
<a class="button" href="${page.base}/">Cancel</a></div>`;
  return htmlResponse(page, "Confirm", body, 200);
}

function cannotList(page: Page, store: BackendGateway): Html {
  return html`<h1>Sessions</h1><div class="notice warn">${store.lacks("listSessions")}</div>
${store.supports("deleteByUser") ? html`<div class="card"><p>This backend still keeps a user index, so you can sign a user out everywhere:</p><form method="post" action="${page.base}/end-user">${csrfField(page)}<input type="hidden" name="confirmed" value=""><label>User id<input type="text" name="user"></label> <button class="danger" type="submit">End all sessions of this user</button></form></div>` : false}`;
}

function goneBody(page: Page): Html {
  return message(page, "Not found", "This session no longer exists, or the address is wrong.");
}

function message(page: Page, title: string, detail: string): Html {
  return html`<h1>${title}</h1><p class="sub">${detail}</p><p><a class="button" href="${page.base}/">Back to sessions</a></p>`;
}
