/**
 * docs/migrating.md's iron-session handler, run as written: a real iron-session app seals a login
 * into its cookie; the Tessera app, with the handler from the docs, moves it into a Tessera session.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import express, { type RequestHandler } from "express";
import { getIronSession } from "iron-session";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createSessions } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { sessionMiddleware } from "tessera-sessions/express";
import { recordingLogger } from "../helpers.js";
import { Browser, me, serve, stopAll } from "./harness.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const PASSWORD = "the iron-session password, 32 characters or more";
const COOKIE = "myapp_session";

type Recipe = (options: { cookieName: string; password: string; ttl?: number }) => RequestHandler;
let fromIronSession: Recipe;

beforeAll(async () => {
  const docs = readFileSync(`${root}docs/migrating.md`, "utf8");
  const code = /```ts\n([\s\S]*?)```/.exec(docs.slice(docs.indexOf("## iron-session")))?.[1] ?? "";
  expect(code).toContain("export function fromIronSession");
  mkdirSync(`${root}.tmp`, { recursive: true });
  const file = `${root}.tmp/iron-session-recipe.ts`;
  writeFileSync(file, code);
  ({ fromIronSession } = (await import(/* @vite-ignore */ file)) as { fromIronSession: Recipe });
});
afterEach(stopAll);

/** The iron-session app: POST /login seals a user into the cookie. */
function ironSessionApp(): express.Express {
  const app = express();
  app.post("/login", async (req, res) => {
    const session = await getIronSession<{ user?: string; roles?: string[] }>(req, res, {
      password: PASSWORD,
      cookieName: COOKIE,
      cookieOptions: { secure: false },
    });
    session.user = "lin";
    session.roles = ["editor"];
    await session.save();
    res.type("text/plain").send("logged in");
  });
  return app;
}

function tesseraApp(): express.Express {
  const sessions = createSessions({ backend: memoryBackend(), logger: recordingLogger() });
  const app = express();
  app.use(sessionMiddleware(sessions));
  app.use(fromIronSession({ cookieName: COOKIE, password: PASSWORD }));
  app.get("/me", async (req, res) => {
    res.json({ key: req.session.sessionKey, data: Object.fromEntries(await req.session.items()) });
  });
  return app;
}

describe("docs/migrating.md's iron-session handler", () => {
  it("moves the sealed data into a Tessera session once and clears the iron-session cookie", async () => {
    const oldUrl = await serve(ironSessionApp());
    const url = await serve(tesseraApp());
    const browser = new Browser();
    await browser.request(`${oldUrl}/login`, "POST");
    expect(browser.cookies.get(COOKIE)).toMatch(/^Fe26\.2\*/);

    const first = await browser.request(`${url}/me`);
    expect(me(first).data).toEqual({ user: "lin", roles: ["editor"] });
    expect(first.setCookies).toHaveLength(2);
    expect(first.setCookies[0]).toMatch(new RegExp(`^${COOKIE}=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT`));
    expect(first.setCookies[1]).toMatch(/^sessionid=[a-z0-9]{32}; /);
    expect([...browser.cookies.keys()]).toEqual(["sessionid"]);

    const second = await browser.request(`${url}/me`);
    expect(me(second)).toEqual({ key: browser.cookies.get("sessionid"), data: { user: "lin", roles: ["editor"] } });
    expect(second.setCookies).toEqual([]);
  });

  it("a tampered seal moves nothing", async () => {
    const oldUrl = await serve(ironSessionApp());
    const url = await serve(tesseraApp());
    const browser = new Browser();
    await browser.request(`${oldUrl}/login`, "POST");
    const sealed = browser.cookies.get(COOKIE) ?? "";
    browser.cookies.set(COOKIE, sealed.slice(0, -3) + (sealed.endsWith("AAA") ? "BBB" : "AAA"));
    const answer = await browser.request(`${url}/me`);
    expect(me(answer)).toEqual({ key: null, data: {} });
    expect(browser.cookies.size).toBe(0);
  });
});
