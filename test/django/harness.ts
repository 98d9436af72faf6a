/**
 * The interop harness: the Django test site (test/django/project/) started with Debian's
 * /usr/bin/python3, a Tessera app with the same routes, and a browser-like cookie jar.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import { createSessions, type SessionBackend } from "tessera-sessions";
import { withSession } from "tessera-sessions/node";
import { djangoLogin } from "tessera-sessions/django";

const PYTHON = "/usr/bin/python3";
const SERVE = fileURLToPath(new URL("./project/serve.py", import.meta.url));
// 50 characters, as Django generates; Tessera's cookie backends need 32 bytes or more.
export const SECRET = "interop-secret-0123456789-abcdefghijklmnopqrstuvwx";
export const OLD = "interop-old-secret-0123456789-abcdefghijklmnopqrst";
export const NEW = "interop-new-secret-0123456789-abcdefghijklmnopqrst";

export const cleanups: (() => Promise<void> | void)[] = [];

/** Runs and forgets every cleanup, newest first. */
export async function cleanUp(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
}

/** Fails (never skips) without Django, saying how to install it. */
export function requireDjango(modules: readonly { module: string; apt: string }[] = []): string {
  const probe = spawnSync(PYTHON, ["-c", "import django; print(django.get_version())"], { encoding: "utf8" });
  if (probe.status !== 0) {
    throw new Error(
      `The Django interop tests need ${PYTHON} with Django: run \`apt-get install -y python3-django\` (Debian's Django 3.2). ${probe.error?.message ?? probe.stderr}`,
    );
  }
  for (const { module, apt } of modules) {
    const check = spawnSync(PYTHON, ["-c", `import ${module}`], { encoding: "utf8" });
    if (check.status !== 0) throw new Error(`These Django interop tests need the Python module ${module}: run \`apt-get install -y ${apt}\`. ${check.stderr}`);
  }
  return probe.stdout.trim();
}

/** Starts the Django test site and waits until it accepts connections. */
export async function startDjango(env: { secret: string; engine: "db" | "signed_cookies"; db: string; fallbacks?: string[] }): Promise<string> {
  const child: ChildProcess = spawn(PYTHON, [SERVE, "0"], {
    env: {
      ...process.env,
      TESSERA_DJANGO_SECRET: env.secret,
      TESSERA_DJANGO_FALLBACKS: (env.fallbacks ?? []).join(","),
      TESSERA_DJANGO_ENGINE: env.engine,
      TESSERA_DJANGO_DB: env.db, // a SQLite file, or a postgres:// or mysql:// URL
      PYTHONDONTWRITEBYTECODE: "1",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => void (stderr += chunk.toString()));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  );
  return new Promise((resolve, reject) => {
    let stdout = "";
    const timer = setTimeout(() => reject(new Error(`Django did not start in 30 s:\n${stderr}`)), 30_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const ready = /READY (\d+)/.exec(stdout);
      if (ready) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${ready[1]}`);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`Django exited with ${code}:\n${stderr}`));
    });
  });
}

/** A Tessera app with the same routes as the Django site. */
export async function startTessera(backend: SessionBackend, secret: string[]): Promise<string> {
  // Quiet: some steps load sessions on purpose with a secret that cannot verify them.
  const sessions = createSessions({ backend, secret, cookie: { secure: false }, logger: { warn: () => {}, error: () => {} } });
  const server: Server = createServer(
    withSession(sessions, async (req, res) => {
      const url = new URL(req.url ?? "/", "http://tessera");
      const q = (name: string) => url.searchParams.get(name) ?? "";
      const session = req.session;
      let body: unknown = { ok: true };
      if (url.pathname === "/whoami") {
        const login = await djangoLogin(session);
        body = { user_id: login?.userId ?? null, username: (await session.get("username")) ?? null, login };
      } else if (url.pathname === "/get") {
        body = { value: (await session.get(q("key"))) ?? null };
      } else if (url.pathname === "/set") {
        await session.set(q("key"), JSON.parse(q("value")));
      } else if (url.pathname === "/login") {
        await session.cycleKey();
        await session.set("username", q("username"));
      } else if (url.pathname === "/flush") {
        await session.flush();
      }
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(body));
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(async () => {
    await new Promise((resolve) => server.close(resolve));
    await sessions.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A browser's cookie jar for 127.0.0.1 (cookies ignore the port, so both sites share it). */
export class Browser {
  cookie: string | undefined;
  setCookies: string[] = [];
  async get(base: string, path: string): Promise<Record<string, unknown>> {
    const response = await fetch(base + path, { headers: this.cookie === undefined ? {} : { cookie: `sessionid=${this.cookie}` } });
    this.setCookies = response.headers.getSetCookie();
    for (const header of this.setCookies) {
      const match = /^sessionid=("?)([^";]*)\1;/.exec(header);
      if (!match) continue;
      this.cookie = match[2] === "" || /Max-Age=0/i.test(header) ? undefined : match[2];
    }
    const text = await response.text();
    expect(response.status, `${base}${path} answered ${response.status}: ${text.slice(0, 2000)}`).toBe(200);
    return JSON.parse(text) as Record<string, unknown>;
  }
}

export const q = encodeURIComponent;
