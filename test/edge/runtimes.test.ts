/**
 * Cookie sessions on real edge runtimes (issue 16), each from the npm registry: workerd (the
 * Cloudflare Workers runtime, without nodejs_compat: Web Crypto only), Deno and Bun. Each serves
 * the edge app (app.ts, bundled as for the edge) over HTTP on 127.0.0.1; the test logs in, reads,
 * writes, logs out, sends a tampered cookie, and sends a cookie sealed by Node (the same bytes
 * open on every runtime).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { createSessions } from "tessera-sessions";
import { signedCookieBackend } from "tessera-sessions/backends/signed-cookies";
import { createCsrf } from "tessera-sessions/csrf";
import { bundleForEdge } from "./bundle.js";
import { startBun, startDeno, startWorkerd, type RunningApp } from "./runtimes.js";

const SECRET = "edge-test-secret-0123456789abcdef0123456789"; // app.ts's
const entry = (name: string) => fileURLToPath(new URL(name, import.meta.url));

/** The `sessionid` value a response sets ("" for a deletion), or undefined when it sets none. */
function sessionCookie(response: Response): string | undefined {
  const header = response.headers.getSetCookie().find((cookie) => cookie.startsWith("sessionid="));
  return header === undefined ? undefined : header.slice("sessionid=".length).split(";")[0];
}

interface Me {
  user: string | null;
  cart: string[];
  crypto: "node" | "web";
  warnings: number;
}

interface DefaultBackend {
  created: boolean;
  name?: string;
  message?: string;
}

const runtimes: { name: string; crypto: "node" | "web"; entry: string; start: (bundle: string) => Promise<RunningApp>; defaultBackend: DefaultBackend }[] = [
  {
    name: "workerd (Cloudflare Workers, no nodejs_compat)",
    crypto: "web",
    entry: "app.ts",
    start: startWorkerd,
    defaultBackend: {
      created: false,
      name: "ConfigurationError",
      message: expect.stringContaining("needs a file system, which this runtime has none of. Set a path") as string,
    },
  },
  {
    name: "Deno",
    crypto: "node",
    entry: "deno.ts",
    start: startDeno,
    // Allowed the network only: the working directory is not the app's to write.
    defaultBackend: {
      created: false,
      name: "ConfigurationError",
      message: expect.stringContaining("cannot be created: this process may not write there") as string,
    },
  },
  { name: "Bun", crypto: "node", entry: "bun.ts", start: startBun, defaultBackend: { created: true } },
];

for (const runtime of runtimes) {
  describe(runtime.name, () => {
    let app: RunningApp;
    beforeAll(async () => {
      const { text } = await bundleForEdge(entry(runtime.entry));
      app = await runtime.start(text);
    }, 60_000);
    afterAll(async () => app?.stop());

    const me = async (cookie?: string) => {
      const response = await fetch(`${app.url}/me`, cookie === undefined ? {} : { headers: { cookie: `sessionid=${cookie}` } });
      expect(response.status).toBe(200);
      return { response, body: (await response.json()) as Me };
    };
    const post = (path: string, body: unknown, cookie?: string) =>
      fetch(`${app.url}${path}`, {
        method: "POST",
        body: JSON.stringify(body),
        headers: { "content-type": "application/json", ...(cookie === undefined ? {} : { cookie: `sessionid=${cookie}` }) },
      });

    it(`logs in, reads, writes and logs out; the crypto is ${runtime.crypto === "web" ? "Web Crypto" : "node:crypto"}`, async () => {
      const anonymous = await me();
      expect(anonymous.body).toMatchObject({ user: null, cart: [], crypto: runtime.crypto });
      expect(sessionCookie(anonymous.response)).toBe(undefined);

      const login = await post("/login", { user: "jane" });
      expect(login.status).toBe(200);
      const first = sessionCookie(login);
      expect(first).toMatch(/^e3\.[A-Za-z0-9_-]+$/);
      expect((await me(first)).body).toMatchObject({ user: "jane", cart: [] });

      const added = await post("/cart", { item: "tea" }, first);
      const second = sessionCookie(added);
      expect(second).toMatch(/^e3\./);
      expect(second).not.toBe(first);
      const read = await me(second);
      expect(read.body).toMatchObject({ user: "jane", cart: ["tea"] });
      expect(read.response.headers.get("vary")).toBe("Cookie");
      expect(sessionCookie(read.response)).toBe(undefined); // only read: nothing re-sealed

      const logout = await post("/logout", {}, second);
      expect(sessionCookie(logout)).toBe("");
      expect(logout.headers.getSetCookie()[0]).toContain("Max-Age=0");
    });

    it("a tampered cookie is an empty session and a warning, never a 500; a clean cookie replaces it", async () => {
      const value = sessionCookie(await post("/login", { user: "jane" })) as string;
      const before = (await me()).body.warnings;
      const middle = Math.floor(value.length / 2);
      const tampered = value.slice(0, middle) + (value[middle] === "A" ? "B" : "A") + value.slice(middle + 1);
      const answer = await me(tampered);
      expect(answer.body).toMatchObject({ user: null, cart: [], warnings: before + 1 });
      const clean = sessionCookie(answer.response) as string;
      expect(clean).toMatch(/^e3\./);
      expect((await me(clean)).body).toMatchObject({ user: null, cart: [], warnings: before + 1 });
    });

    it("CSRF: a token issued there verifies there, a forged one is refused, and Node computes the same token", async () => {
      const issued = await fetch(`${app.url}/csrf`);
      const { token } = (await issued.json()) as { token: string };
      const csrfCookie = issued.headers.getSetCookie().find((c) => c.startsWith("csrftoken=")) as string;
      expect(csrfCookie).toMatch(/^csrftoken=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/);
      const cookie = csrfCookie.split(";")[0] as string;
      const submit = (value: string) => fetch(`${app.url}/csrf`, { method: "POST", headers: { cookie, "x-csrf-token": value } });
      expect((await submit(token)).status).toBe(200);
      expect((await submit(token.replace(/^./, (c) => (c === "A" ? "B" : "A")))).status).toBe(403);
      // The runtime's HMAC (node:crypto or @noble/hashes) gives Node's bytes.
      const nodeSide = createCsrf(createSessions({ backend: signedCookieBackend({ encrypt: true }), secret: SECRET, cookie: { secure: false } }));
      expect((await nodeSide.issue(cookie)).token).toBe(token);
    });

    it("createSessions() without a backend: the default SQLite file is refused at startup where it cannot be written", async () => {
      const response = await fetch(`${app.url}/default-backend`);
      expect(await response.json()).toEqual(runtime.defaultBackend);
    });

    it("opens a cookie sealed by Node, and Node opens the runtime's", async () => {
      const sessions = createSessions({ backend: signedCookieBackend({ encrypt: true }), secret: SECRET, cookie: { secure: false } });
      const session = sessions.open();
      await session.set("user", "from-node");
      await sessions.commit(session, 200);
      expect((await me(session.sessionKey as string)).body).toMatchObject({ user: "from-node" });

      const sealedThere = sessionCookie(await post("/login", { user: "from-runtime" })) as string;
      expect(await sessions.open(sealedThere).get("user")).toBe("from-runtime");
    });
  });
}
