/**
 * Tessera's login demo: Django's classic login / dashboard / logout example, done with the
 * care a real app needs: hashed passwords, CSRF tokens, a new session key on login, flush on
 * logout. Also a cart that lives in the session and a page showing when the session expires.
 *
 * `createApp()` builds the app without listening, so tests can give it a temp database and a
 * fixed clock; `server.ts` runs it.
 */
import { randomBytes } from "node:crypto";
import express, { type Express, type NextFunction, type Request, type Response } from "express";
import { BackendError, createSessions, SessionInterruptedError, type Session, type Sessions } from "tessera-sessions";
import { createAdmin, toNodeHandler } from "tessera-sessions/admin";
import { databaseBackend } from "tessera-sessions/backends/db";
import { createCsrf, type CsrfProtection } from "tessera-sessions/csrf";
import { sessionMiddleware } from "tessera-sessions/express";
import { hashPassword, verifyPassword } from "./passwords.js";
import { CONTENT_SECURITY_POLICY, csrfField, describeDevice, escapeHtml, formatWhen, layout, type PageContext } from "./views.js";

/** The expiries the session page offers, with their labels. */
const EXPIRY_CHOICES = {
  default: "The default (two weeks after the last change)",
  "5m": "Five minutes after the last change",
  "30d": "A fixed date thirty days from now",
  browser: "When the browser closes",
} as const;
type ExpiryChoice = keyof typeof EXPIRY_CHOICES;

/** What the demo keeps in a session. */
export interface DemoSessionData {
  /** Set on login; its presence is what "logged in" means. */
  username?: string;
  /** Product id to quantity. */
  cart?: Record<string, number>;
  /** The expiry last chosen on the session page, so its dropdown shows it again. */
  expiryChoice?: ExpiryChoice;
  /** Where this login came from, shown on the "your sessions" page. */
  signedInFrom?: { userAgent: string; ip: string };
}

/**
 * A real app would declare its data once with `declare module "tessera-sessions" { interface AppSessionData {...} }`
 * so `req.session` is typed everywhere. The demo uses the generic instead, because this file is
 * type-checked together with the test suite, which a global declaration would retype.
 */
type DemoSession = Session<DemoSessionData>;
const sessionOf = (req: Request): DemoSession => req.session as unknown as DemoSession;

export const DEMO_USERNAME = "demo";
export const DEMO_PASSWORD = "tessera-demo";
/** A staff account: it may open the session admin at /admin/sessions. */
export const STAFF_USERNAME = "staff";
export const STAFF_PASSWORD = "tessera-staff";

/** The demo's user store: username to scrypt hash (this one is the hash of "tessera-demo"). */
const DEMO_USERS: Readonly<Record<string, string>> = {
  [DEMO_USERNAME]: "scrypt$16384$8$1$znUnft9POP-n2IuYCZP26Q$9Vmf2_I23gq12Q-y9-_en5QTwNHttXsKaDyhVA_4L94",
  [STAFF_USERNAME]: "scrypt$16384$8$1$b350p68rdsYUGf0lMrP41Q$O6lDX9pcKWnuYgfsKPxQnWu6G4pcYN_JPxhczWUsmPM",
};

/**
 * Only for running the demo locally: sessions in the database are not signed, but a real app
 * sets SESSION_SECRET (32+ random bytes) so cookie-based backends and rotation work.
 */
const DEV_SECRET = "tessera-demo-secret-for-local-development-only";

const PRODUCTS: ReadonlyMap<string, { readonly name: string; readonly priceCents: number }> = new Map([
  ["tea", { name: "Sencha green tea", priceCents: 850 }],
  ["mug", { name: "Stoneware mug", priceCents: 1400 }],
  ["notebook", { name: "Dot-grid notebook", priceCents: 1200 }],
  ["pen", { name: "Fountain pen", priceCents: 2600 }],
]);

const THIRTY_DAYS_MS = 30 * 24 * 3600 * 1000;

/** Options of {@link createApp}. */
export interface LoginDemoOptions {
  /** Where sessions are stored. @default "sqlite:sessions.sqlite3" (in the working directory) */
  databaseUrl?: string;
  /** The clock every expiry decision uses. @default Date.now */
  clock?: () => number;
  /** @default process.env.SESSION_SECRET, else a fixed development secret */
  secret?: string;
  /** Username to scrypt hash (see `hashPassword`). @default the demo user */
  users?: Readonly<Record<string, string>>;
  /** Usernames that may open the session admin (/admin/sessions). @default ["staff"] */
  staff?: readonly string[];
}

/** Builds the demo app and the sessions it uses (close them when done). */
export function createApp(options: LoginDemoOptions = {}): { app: Express; sessions: Sessions<DemoSessionData> } {
  const clock = options.clock ?? Date.now;
  const sessions = createSessions<DemoSessionData>({
    backend: databaseBackend({ url: options.databaseUrl ?? "sqlite:sessions.sqlite3" }),
    secret: options.secret ?? (process.env["SESSION_SECRET"] || DEV_SECRET),
    // The demo is served over plain http://127.0.0.1, where browsers never return a Secure
    // cookie. Anything deployed keeps the default (true) and runs behind HTTPS.
    cookie: { secure: false },
    clock,
  });
  const users = new Map(Object.entries(options.users ?? DEMO_USERS));
  let decoyHash: Promise<string> | undefined;

  /** Checks a login; unknown usernames cost the same scrypt run, so timing does not reveal which exist. */
  async function checkCredentials(username: string, password: string): Promise<boolean> {
    const stored = users.get(username);
    const matches = await verifyPassword(password, stored ?? (await (decoyHash ??= hashPassword(randomBytes(16).toString("hex")))));
    return stored !== undefined && matches;
  }

  const app = express();
  app.disable("x-powered-by");
  app.use(express.urlencoded({ extended: false, limit: "10kb" }));
  app.use(sessionMiddleware(sessions));

  // The session admin, for staff only: anyone else gets a 404. It checks its own CSRF token, so
  // it is mounted before the demo's CSRF check below.
  const staff = new Set(options.staff ?? [STAFF_USERNAME]);
  const admin = createAdmin({
    sessions,
    backLink: { href: "/dashboard", label: "Back to the demo" },
    authorize: async (_request, { node }) => staff.has((await sessionOf(node as unknown as Request).get("username")) ?? ""),
  });
  app.use("/admin/sessions", toNodeHandler(admin));

  // Every POST must carry the CSRF token its page was given (tessera-sessions/csrf: a signed
  // double-submit). Another site can make a browser post here with its cookies, but cannot read
  // the token from our pages nor mint one. The token is an HMAC of the csrftoken cookie and the
  // session key, so a visitor who only looks around stores nothing on the server, and the new
  // key at login (cycleKey) and logout (flush) retires every token shown before.
  const csrf = createCsrf(sessions);
  app.use(async (req, res, next) => {
    res.locals["csrf"] = csrf;
    if (req.method !== "POST") return next();
    if (await csrf.verify(req.headers.cookie, field(req, csrf.fieldName), sessionOf(req))) return next();
    sendPage(
      res,
      403,
      layout(
        "Forbidden",
        undefined,
        `<h1>Forbidden</h1>
<p class="error">The form's security token is missing or out of date (CSRF check failed).</p>
<p><a href="/">Start again</a></p>`,
      ),
    );
  });

  app.get("/", async (req, res) => {
    res.redirect((await sessionOf(req).has("username")) ? "/dashboard" : "/login");
  });

  app.get("/login", async (req, res) => {
    const session = sessionOf(req);
    if (await session.has("username")) return res.redirect("/dashboard");
    const notice = req.query["loggedOut"] === "1" ? `<p class="note">You have been logged out, and your session deleted.</p>` : "";
    sendPage(res, 200, loginPage(await pageContext(session, staff, res), { notice, username: "" }));
  });

  app.post("/login", async (req, res) => {
    const session = sessionOf(req);
    const username = field(req, "username") ?? "";
    const password = field(req, "password") ?? "";
    if (!(await checkCredentials(username, password))) {
      const notice = `<p class="error">Wrong username or password.</p>`;
      return sendPage(res, 200, loginPage(await pageContext(session, staff, res), { notice, username }));
    }
    const previous = await session.get("username");
    if (previous !== undefined && previous !== username) {
      await session.flush(); // another user's data must not carry over
    } else {
      // Against session fixation: a key planted before login is worthless after it. The cart stays.
      await session.cycleKey();
    }
    await session.set("username", username);
    await session.setUser(username); // indexed: "your sessions" and the admin list and end them
    await session.set("signedInFrom", { userAgent: req.get("user-agent") ?? "unknown", ip: req.ip ?? "" });
    res.redirect(303, "/dashboard");
  });

  app.post("/logout", async (req, res) => {
    // Deletes the stored session and its data; the middleware then deletes the cookie.
    await sessionOf(req).flush();
    res.redirect(303, "/login?loggedOut=1");
  });

  app.get("/dashboard", async (req, res) => {
    const session = sessionOf(req);
    const context = await pageContext(session, staff, res);
    if (context.username === undefined) return res.redirect("/login");
    sendPage(
      res,
      200,
      layout(
        "Dashboard",
        context,
        `<h1>Welcome, ${escapeHtml(context.username)}</h1>
<p class="lead">You are logged in. Your session lives in the database; your browser holds only its random key.</p>
<p>Your cart has ${plural(context.cartCount, "item")}. <a href="/cart">Open the cart</a></p>
<p>See when this session expires, or change it, on the <a href="/session">session page</a>.</p>
<p>See where else you are signed in, and sign those out, on <a href="/account/sessions">your sessions</a>.</p>`,
      ),
    );
  });

  // "Your sessions": the user index lists this user's sessions; each can be ended from here.
  app.get("/account/sessions", async (req, res) => {
    const session = sessionOf(req);
    const context = await pageContext(session, staff, res);
    if (context.username === undefined) return res.redirect("/login");
    const mine = await sessions.listForUser(context.username, { current: session });
    const rows = mine.map((s) => {
      const from = s.data["signedInFrom"] as DemoSessionData["signedInFrom"] | undefined;
      const end = s.current
        ? `<strong>This browser</strong>`
        : `<form class="inline" method="post" action="/account/sessions/end">${csrfField(context.csrfToken)}<input type="hidden" name="id" value="${escapeHtml(s.id)}"><button class="small" type="submit">Sign out</button></form>`;
      const userAgent = from?.userAgent ?? "unknown";
      return `<tr><td><span title="${escapeHtml(userAgent)}">${escapeHtml(describeDevice(userAgent))}</span><br><small>${escapeHtml(from?.ip ?? "")} · signed in <time datetime="${s.createdAt.toISOString()}">${formatWhen(s.createdAt)}</time></small></td>
<td><time datetime="${s.updatedAt.toISOString()}">${formatWhen(s.updatedAt)}</time></td><td class="num">${end}</td></tr>`;
    });
    sendPage(
      res,
      200,
      layout(
        "Your sessions",
        context,
        `<h1>Your sessions</h1>
<p class="lead">Everywhere you are signed in as ${escapeHtml(context.username)}, most recently active first.</p>
<div class="scroll"><table>
<tr><th>Device</th><th>Last active</th><th></th></tr>
${rows.join("\n")}
</table></div>
${mine.length > 1 ? `<form method="post" action="/account/sessions/end-others">${csrfField(context.csrfToken)}<button type="submit">Sign out everywhere else</button></form>` : ""}`,
      ),
    );
  });

  app.post("/account/sessions/end", async (req, res) => {
    const username = await sessionOf(req).get("username");
    if (username === undefined) return res.redirect(303, "/login");
    // Scoped to the user: an id posted by one user can never end another user's session.
    await sessions.endSession(username, field(req, "id") ?? "");
    res.redirect(303, "/account/sessions");
  });

  app.post("/account/sessions/end-others", async (req, res) => {
    const session = sessionOf(req);
    const username = await session.get("username");
    if (username === undefined) return res.redirect(303, "/login");
    await sessions.endAllForUser(username, { except: session });
    res.redirect(303, "/account/sessions");
  });

  app.get("/cart", async (req, res) => {
    const session = sessionOf(req);
    const context = await pageContext(session, staff, res);
    const cart = await session.get("cart", {});
    sendPage(
      res,
      200,
      layout(
        "Cart",
        context,
        `<h1>Cart</h1>
<p class="lead">The cart is kept in your session, so it survives page loads and logging in.</p>
${cartTable(cart, context.csrfToken)}
<h2>Products</h2>
<table>
${[...PRODUCTS]
  .map(
    ([id, product]) => `<tr><td>${escapeHtml(product.name)}</td><td class="num">${money(product.priceCents)}</td>
<td class="num"><form class="inline" method="post" action="/cart/add">${csrfField(context.csrfToken)}<input type="hidden" name="product" value="${escapeHtml(id)}"><button class="small" type="submit">Add</button></form></td></tr>`,
  )
  .join("\n")}
</table>`,
      ),
    );
  });

  app.post("/cart/add", async (req, res) => {
    const session = sessionOf(req);
    const product = knownProduct(req);
    if (product === undefined)
      return sendPage(res, 400, layout("Bad request", undefined, `<h1>Unknown product</h1><p><a href="/cart">Back to the cart</a></p>`));
    const cart = { ...(await session.get("cart", {})) };
    cart[product] = (cart[product] ?? 0) + 1;
    await session.set("cart", cart); // set a new object: the session saves what set() is given
    res.redirect(303, "/cart");
  });

  app.post("/cart/remove", async (req, res) => {
    const session = sessionOf(req);
    const product = knownProduct(req);
    if (product === undefined)
      return sendPage(res, 400, layout("Bad request", undefined, `<h1>Unknown product</h1><p><a href="/cart">Back to the cart</a></p>`));
    const cart = { ...(await session.get("cart", {})) };
    delete cart[product];
    if (Object.keys(cart).length === 0) await session.delete("cart");
    else await session.set("cart", cart);
    res.redirect(303, "/cart");
  });

  app.get("/session", async (req, res) => {
    const session = sessionOf(req);
    const context = await pageContext(session, staff, res);
    const expires = await session.getExpiryDate();
    const age = await session.getExpiryAge();
    const atBrowserClose = await session.getExpireAtBrowserClose();
    const chosen = await session.get("expiryChoice", "default");
    sendPage(
      res,
      200,
      layout(
        "Session",
        context,
        `<h1>Your session</h1>
<dl>
  <dt>Expires</dt><dd><time datetime="${expires.toISOString()}">${expires.toUTCString()}</time></dd>
  <dt>Time left</dt><dd>${age} seconds (${duration(age)})</dd>
  <dt>Cookie</dt><dd>${atBrowserClose ? "deleted when the browser closes" : "persistent until the expiry"}</dd>
</dl>
<p class="lead">An expiry in seconds slides: each saved change starts the clock again. A fixed date stays put.</p>
<form method="post" action="/session/expiry">
  ${csrfField(context.csrfToken)}
  <label for="expiry">Change the expiry</label>
  <select id="expiry" name="expiry">
${Object.entries(EXPIRY_CHOICES)
  .map(([value, label]) => `    <option value="${value}"${value === chosen ? " selected" : ""}>${label}</option>`)
  .join("\n")}
  </select>
  <div class="actions"><button type="submit">Apply</button></div>
</form>`,
      ),
    );
  });

  app.post("/session/expiry", async (req, res) => {
    const session = sessionOf(req);
    const choices: Record<ExpiryChoice, () => Promise<void>> = {
      default: () => session.setExpiry(null),
      "5m": () => session.setExpiry(300),
      "30d": () => session.setExpiry(new Date(clock() + THIRTY_DAYS_MS)),
      browser: () => session.setExpiry(0),
    };
    const choice = field(req, "expiry");
    if (choice === undefined || !Object.hasOwn(choices, choice))
      return sendPage(res, 400, layout("Bad request", undefined, `<h1>Unknown expiry choice</h1><p><a href="/session">Back</a></p>`));
    await choices[choice as ExpiryChoice]();
    await session.set("expiryChoice", choice as ExpiryChoice);
    res.redirect(303, "/session");
  });

  app.use((_req, res) => {
    sendPage(res, 404, layout("Not found", undefined, `<h1>Page not found</h1><p><a href="/">Home</a></p>`));
  });

  // Express's error path: Tessera's errors carry a status (400 session interrupted, 503 store down).
  app.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    const status = typeof (error as { status?: unknown }).status === "number" ? (error as { status: number }).status : 500;
    if (status >= 500) console.error(error);
    const message = errorMessage(error, status);
    sendPage(res, status, layout("Error", undefined, `<h1>Sorry</h1><p class="error">${message}</p><p><a href="/">Home</a></p>`));
  });

  return { app, sessions };
}

/** What the visitor is told: a client's mistake (4xx) is named as such, never "our side". */
function errorMessage(error: unknown, status: number): string {
  if (error instanceof SessionInterruptedError) return "Your session ended while this request ran (logged out in another tab?). Please try again.";
  if (error instanceof BackendError) return "The session store is not answering. Please try again in a moment.";
  if (status === 413) return "The form you sent is too large.";
  if (status === 415) return "The form was sent in a format this site does not accept.";
  if (status >= 400 && status < 500) return `This request could not be handled (error ${status}).`;
  return "Something went wrong on our side.";
}

/** A page's header needs the user (and whether staff), the request's CSRF token and the cart size. */
async function pageContext(session: DemoSession, staff: ReadonlySet<string>, res: Response): Promise<PageContext> {
  // Issued as the page is rendered, after the request's changes, so it is bound to the session as it stays.
  const { token: csrfToken, setCookie } = await (res.locals["csrf"] as CsrfProtection).issue(res.req.headers.cookie, session);
  if (setCookie !== undefined) res.append("Set-Cookie", setCookie);
  const cart = await session.get("cart", {});
  const username = await session.get("username");
  return { username, isStaff: username !== undefined && staff.has(username), csrfToken, cartCount: Object.values(cart).reduce((sum, n) => sum + n, 0) };
}

function loginPage(context: PageContext, form: { notice: string; username: string }): string {
  return layout(
    "Log in",
    context,
    `<h1>Log in</h1>
<p class="note">Demo account: username <strong>${DEMO_USERNAME}</strong>, password <strong>${DEMO_PASSWORD}</strong>.
Staff (may open <a href="/admin/sessions">the session admin</a>): <strong>${STAFF_USERNAME}</strong> / <strong>${STAFF_PASSWORD}</strong>.</p>
${form.notice}
<form method="post" action="/login">
  ${csrfField(context.csrfToken)}
  <label for="username">Username</label>
  <input id="username" name="username" type="text" autocomplete="username" required value="${escapeHtml(form.username)}">
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <div class="actions"><button type="submit">Log in</button></div>
</form>`,
  );
}

function cartTable(cart: Record<string, number>, csrfToken: string): string {
  const lines = Object.entries(cart).flatMap(([id, quantity]) => {
    const product = PRODUCTS.get(id);
    return product === undefined ? [] : [{ id, product, quantity }];
  });
  if (lines.length === 0) return `<p>Your cart is empty.</p>`;
  const total = lines.reduce((sum, line) => sum + line.product.priceCents * line.quantity, 0);
  return `<table>
<tr><th>Item</th><th class="num">Quantity</th><th class="num">Price</th><th></th></tr>
${lines
  .map(
    ({
      id,
      product,
      quantity,
    }) => `<tr><td>${escapeHtml(product.name)}</td><td class="num">${quantity}</td><td class="num">${money(product.priceCents * quantity)}</td>
<td class="num"><form class="inline" method="post" action="/cart/remove">${csrfField(csrfToken)}<input type="hidden" name="product" value="${escapeHtml(id)}"><button class="small link" type="submit">Remove</button></form></td></tr>`,
  )
  .join("\n")}
<tr><th>Total</th><th></th><th class="num">${money(total)}</th><th></th></tr>
</table>`;
}

function sendPage(res: Response, status: number, html: string): void {
  res
    .status(status)
    .set({
      "Content-Type": "text/html; charset=utf-8",
      // Pages show session data: never cache them, not even in the browser's history.
      "Cache-Control": "no-store",
      "Content-Security-Policy": CONTENT_SECURITY_POLICY,
      "X-Content-Type-Options": "nosniff",
      "Referrer-Policy": "same-origin",
    })
    .send(html);
}

/** A form field as a single string (a repeated or missing field is undefined). */
function field(req: Request, name: string): string | undefined {
  const body: unknown = req.body;
  const value = typeof body === "object" && body !== null ? (body as Record<string, unknown>)[name] : undefined;
  return typeof value === "string" ? value : undefined;
}

function knownProduct(req: Request): string | undefined {
  const id = field(req, "product");
  return id !== undefined && PRODUCTS.has(id) ? id : undefined;
}

function money(cents: number): string {
  return `€${(cents / 100).toFixed(2)}`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/** "14 days", "4 minutes 59 seconds": the two largest units. */
function duration(totalSeconds: number): string {
  if (totalSeconds <= 0) return "expired";
  const units: [string, number][] = [
    ["day", 86_400],
    ["hour", 3600],
    ["minute", 60],
    ["second", 1],
  ];
  const parts: string[] = [];
  let rest = totalSeconds;
  for (const [name, size] of units) {
    const count = Math.floor(rest / size);
    rest -= count * size;
    if (count > 0 && parts.length < 2) parts.push(plural(count, name));
  }
  return parts.join(" ");
}

export { hashPassword };
