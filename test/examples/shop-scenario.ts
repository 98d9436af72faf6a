/**
 * Drives an example shop (examples/<framework>/app.ts) through login -> cart -> logout over
 * real HTTP, the way a browser would, and checks what each step does to the session.
 */
import { createServer, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "vitest";

/** Serves `listener` on a loopback port for `use` (given its URL), then closes the server. */
export async function onLoopback(listener: RequestListener, use: (url: string) => Promise<void>): Promise<void> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    await use(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections(); // a browser keeps idle connections open
    await new Promise((resolve) => server.close(resolve));
  }
  expect(server.listening).toBe(false);
}

const SET_COOKIE = /^sessionid=([a-z0-9]{32}); Max-Age=1209600; Path=\/; Expires=[^;]+; HttpOnly; SameSite=Lax$/;
const DELETION = "sessionid=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Lax";

const CSRF_COOKIE = /^csrftoken=([A-Za-z0-9_-]{43}); Path=\/; HttpOnly; SameSite=Lax$/;
const FORGED = "Forbidden: this form's security token is missing or out of date (CSRF check failed). Reload the page and try again.";

export async function driveShop(baseUrl: string): Promise<void> {
  let key: string | undefined;
  let csrfCookie: string | undefined;
  /** The CSRF token the last page's forms carried (every form of a page carries the same one). */
  let token = "";
  /** Sends a request as the browser would; `cookies` are the session's Set-Cookies (the CSRF cookie is kept apart). */
  const send = async (method: "GET" | "POST", path: string, form?: Record<string, string>) => {
    // A browser names the page's origin on every POST (SvelteKit and Astro refuse a form POST without it).
    const headers: Record<string, string> = method === "POST" ? { origin: baseUrl } : {};
    const cookie = [key === undefined ? "" : `sessionid=${key}`, csrfCookie === undefined ? "" : `csrftoken=${csrfCookie}`].filter(Boolean).join("; ");
    if (cookie !== "") headers.cookie = cookie;
    if (form) headers["content-type"] = "application/x-www-form-urlencoded";
    const body = form === undefined ? undefined : new URLSearchParams({ csrf: token, ...form }).toString();
    const res = await fetch(baseUrl + path, { method, headers, redirect: "manual", ...(body === undefined ? {} : { body }) });
    const all = res.headers.getSetCookie();
    for (const header of all.filter((line) => line.startsWith("csrftoken="))) {
      const match = CSRF_COOKIE.exec(header);
      expect(match, `not a CSRF cookie: ${header}`).not.toBeNull();
      csrfCookie = (match as RegExpExecArray)[1];
    }
    const text = await res.text();
    const tokens = [...text.matchAll(/<input type="hidden" name="csrf" value="([^"]+)">/g)].map((m) => m[1]);
    if (tokens.length > 0) {
      expect(new Set(tokens).size).toBe(1);
      token = tokens[0] as string;
    }
    return { res, body: text, cookies: all.filter((line) => !line.startsWith("csrftoken=")), csrfCookies: all.filter((line) => line.startsWith("csrftoken=")) };
  };
  const newKey = (cookies: string[]) => {
    expect(cookies).toHaveLength(1);
    const match = SET_COOKIE.exec(cookies[0] ?? "");
    expect(match, `not a session cookie: ${cookies[0]}`).not.toBeNull();
    return (match as RegExpExecArray)[1] as string;
  };

  // A body that is not a small urlencoded form is the client's mistake (415, 413), never a 500.
  const refused = async (headers: Record<string, string>, body: string) =>
    (await fetch(`${baseUrl}/cart`, { method: "POST", headers: { origin: baseUrl, ...headers }, body })).status;
  expect(await refused({ "content-type": "application/json" }, '{"item":"x"}')).toBe(415);
  expect(await refused({ "content-type": "multipart/form-data; boundary=x" }, "--x\r\nbroken")).toBe(415);
  expect(await refused({ "content-type": "application/x-www-form-urlencoded" }, `item=${"a".repeat(20_000)}`)).toBe(413);

  // A first visit shows the login form and sets the CSRF cookie, but stores no session.
  let step = await send("GET", "/");
  expect(step.res.status).toBe(200);
  expect(step.body).toContain('action="/login"');
  expect(step.cookies).toEqual([]);
  expect(step.csrfCookies).toHaveLength(1);
  expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(token).not.toBe(csrfCookie); // a MAC of the cookie, not the cookie
  const anonymousToken = token;

  // A POST without the page's token is refused, and changes nothing: no token, a forged one,
  // another browser's (a fresh visit's) token, the right token without its cookie.
  const stranger = await fetch(`${baseUrl}/`);
  const strangersToken = /name="csrf" value="([^"]+)"/.exec(await stranger.text())?.[1] ?? "";
  expect(strangersToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
  for (const forged of [{}, { csrf: "" }, { csrf: "forged" }, { csrf: `${token}x` }, { csrf: strangersToken }]) {
    const saved = token;
    token = "";
    step = await send("POST", "/cart", { item: "bomb", ...forged });
    token = saved;
    expect(step.res.status).toBe(403);
    expect(step.body).toBe(FORGED);
    expect(step.cookies).toEqual([]);
  }
  const withoutCookie = await fetch(`${baseUrl}/login`, {
    method: "POST",
    headers: { origin: baseUrl, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ csrf: token, username: "mallory" }).toString(),
  });
  expect(withoutCookie.status).toBe(403);
  expect(withoutCookie.headers.getSetCookie()).toEqual([]);

  // An anonymous visitor fills the cart: a session starts.
  step = await send("POST", "/cart", { item: "apple" });
  expect(step.res.status).toBe(303);
  expect(step.res.headers.get("location")).toBe("/");
  const anonymousKey = newKey(step.cookies);
  key = anonymousKey;

  // Login cycles the key and keeps the cart. The form shown before the anonymous session began
  // (its token bound to no session) is still good: no user was bound yet.
  expect(token).toBe(anonymousToken);
  step = await send("POST", "/login", { username: "ann <admin>" });
  expect(step.res.status).toBe(303);
  key = newKey(step.cookies);
  expect(key).not.toBe(anonymousKey);
  // The token shown before the login is retired by it.
  step = await send("POST", "/cart", { item: "stale" });
  expect(step.res.status).toBe(403);
  step = await send("GET", "/");
  expect(token).not.toBe(anonymousToken);
  expect(step.body).toContain("Signed in as ann &#60;admin&#62;");
  expect(step.body).toContain("<li>apple</li>");
  expect(step.cookies).toEqual([]);

  // The key from before the login is dead: that visitor is anonymous with no cart.
  const loggedInKey = key;
  key = anonymousKey;
  step = await send("GET", "/");
  expect(step.body).toContain('action="/login"');
  expect(step.body).not.toContain("apple");
  expect(step.cookies).toEqual([DELETION]);
  key = loggedInKey;
  // The page that dead key saw carried an anonymous token, which the signed-in session refuses.
  expect((await send("POST", "/cart", { item: "stale" })).res.status).toBe(403);
  await send("GET", "/");

  // The cart survives requests.
  step = await send("POST", "/cart", { item: "pear" });
  expect(step.res.status).toBe(303);
  expect(newKey(step.cookies)).toBe(key); // same session, cookie refreshed
  step = await send("GET", "/");
  expect(step.body).toContain("<li>apple</li><li>pear</li>");

  // Logout flushes: the cookie is deleted and the old key shows an empty session.
  step = await send("POST", "/logout", {});
  expect(step.res.status).toBe(303);
  expect(step.cookies).toEqual([DELETION]);
  step = await send("GET", "/");
  expect(step.body).toContain('action="/login"');
  expect(step.body).not.toContain("apple");
  expect(step.cookies).toEqual([DELETION]);
}
