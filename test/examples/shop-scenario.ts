/**
 * Drives an example shop (examples/<framework>/app.ts) through login -> cart -> logout over
 * real HTTP, the way a browser would, and checks what each step does to the session.
 */
import { createServer, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "vitest";

/** Serves `listener` on a loopback port, drives the shop through it, and closes the server. */
export async function driveShopListener(listener: RequestListener): Promise<void> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    await driveShop(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  expect(server.listening).toBe(false);
}

const SET_COOKIE = /^sessionid=([a-z0-9]{32}); Max-Age=1209600; Path=\/; Expires=[^;]+; HttpOnly; SameSite=Lax$/;
const DELETION = "sessionid=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Lax";

export async function driveShop(baseUrl: string): Promise<void> {
  let key: string | undefined;
  const send = async (method: "GET" | "POST", path: string, form?: Record<string, string>) => {
    const headers: Record<string, string> = {};
    if (key !== undefined) headers.cookie = `sessionid=${key}`;
    if (form) headers["content-type"] = "application/x-www-form-urlencoded";
    const res = await fetch(baseUrl + path, { method, headers, redirect: "manual", ...(form ? { body: new URLSearchParams(form).toString() } : {}) });
    return { res, body: await res.text(), cookies: res.headers.getSetCookie() };
  };
  const newKey = (cookies: string[]) => {
    expect(cookies).toHaveLength(1);
    const match = SET_COOKIE.exec(cookies[0] ?? "");
    expect(match, `not a session cookie: ${cookies[0]}`).not.toBeNull();
    return (match as RegExpExecArray)[1] as string;
  };

  // A body that is not a small urlencoded form is the client's mistake (415, 413), never a 500.
  const refused = async (headers: Record<string, string>, body: string) => (await fetch(`${baseUrl}/cart`, { method: "POST", headers, body })).status;
  expect(await refused({ "content-type": "application/json" }, '{"item":"x"}')).toBe(415);
  expect(await refused({ "content-type": "multipart/form-data; boundary=x" }, "--x\r\nbroken")).toBe(415);
  expect(await refused({ "content-type": "application/x-www-form-urlencoded" }, `item=${"a".repeat(20_000)}`)).toBe(413);

  // A first visit shows the login form and sets no cookie.
  let step = await send("GET", "/");
  expect(step.res.status).toBe(200);
  expect(step.body).toContain('action="/login"');
  expect(step.cookies).toEqual([]);

  // An anonymous visitor fills the cart: a session starts.
  step = await send("POST", "/cart", { item: "apple" });
  expect(step.res.status).toBe(303);
  expect(step.res.headers.get("location")).toBe("/");
  const anonymousKey = newKey(step.cookies);
  key = anonymousKey;

  // Login cycles the key and keeps the cart.
  step = await send("POST", "/login", { username: "ann <admin>" });
  expect(step.res.status).toBe(303);
  key = newKey(step.cookies);
  expect(key).not.toBe(anonymousKey);
  step = await send("GET", "/");
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
