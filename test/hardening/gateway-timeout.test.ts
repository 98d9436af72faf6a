/**
 * The backend gateway (issue 15, item 1): every store call of the manager, the admin and the CLI
 * runs under `backendTimeoutMs` and fails as a BackendError (a DeadlineError when it timed out),
 * as the Session's own calls always did. Hanging stores are a backend object whose promises never
 * settle, and a real redis-server frozen with SIGSTOP.
 */
import { createServer } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { BackendError, createSessions, DeadlineError, hashKey, type ServerBackend, type Sessions } from "tessera-sessions";
import { createAdmin, toNodeHandler } from "tessera-sessions/admin";
import { cacheBackend } from "tessera-sessions/backends/cache";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { sessionsCommand } from "../../src/cli/sessions.js";
import { startRedis, type RedisServer } from "../servers/redis.js";
import { get, listen, type Listening } from "./http.js";

const never = () => new Promise<never>(() => {});
const quiet = { warn: () => {}, error: () => {} };
const late = (store: string, action: string, ms: number) =>
  `[tessera] [${store}] could not ${action}: no answer within ${ms} ms (backendTimeoutMs). The store may be down or overloaded.`;

/** A memory store whose chosen methods never answer (`migrate` is added, as a SQL store has one). */
function hanging(methods: readonly (keyof ServerBackend)[]): ServerBackend {
  const backend: ServerBackend = { ...memoryBackend(), name: "hanging", migrate: async () => {} };
  for (const method of methods) (backend as unknown as Record<string, unknown>)[method] = never;
  return backend;
}

/** A session of `user` saved in `sessions`; its key. */
async function sessionOf(sessions: Sessions, user: string): Promise<string> {
  const session = sessions.open();
  await session.set("name", user);
  await session.setUser(user);
  await session.save();
  return session.sessionKey as string;
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

describe("the manager's store calls go through the gateway", () => {
  it("listForUser, endAllForUser and endSession time out as a DeadlineError (503)", async () => {
    const sessions = createSessions({ backend: hanging(["listByUser", "deleteByUser"]), backendTimeoutMs: 40, logger: quiet });
    const calls: [Promise<unknown>, string][] = [
      [sessions.listForUser("alice"), "list the user's sessions"],
      [sessions.endAllForUser("alice"), "end the user's sessions"],
      [sessions.endSession("alice", "f".repeat(64)), "list the user's sessions"],
    ];
    for (const [call, action] of calls) {
      const error = await call.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DeadlineError);
      expect(error).toBeInstanceOf(BackendError);
      expect(error).toMatchObject({ status: 503, code: "BACKEND_FAILURE", backend: "hanging", ms: 40, message: late("hanging", action, 40) });
    }
  });

  it("endSession's delete is bounded too, and a driver's failure becomes a BackendError naming the store", async () => {
    const backend = hanging(["deleteById"]);
    const sessions = createSessions({ backend, backendTimeoutMs: 40, logger: quiet });
    const key = await sessionOf(sessions, "alice");
    await expect(sessions.endSession("alice", hashKey(key))).rejects.toThrow(late("hanging", "delete the session", 40));

    const failing = createSessions({
      backend: { ...memoryBackend(), name: "failing", listByUser: async () => Promise.reject(new Error("ECONNRESET")) },
      logger: quiet,
    });
    const error = await failing.listForUser("alice").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    expect(error).not.toBeInstanceOf(DeadlineError);
    expect(error).toMatchObject({ status: 503, message: "[tessera] [failing] could not list the user's sessions: ECONNRESET" });
  });

  it("a backend without a user index is refused in one wording, before any store call", async () => {
    const { listByUser: _l, deleteByUser: _d, deleteById: _i, ...plain } = memoryBackend();
    const sessions = createSessions({ backend: { ...plain, name: "custom" } });
    const expected =
      "[tessera] The custom backend keeps no user index. Use the database, cache (Redis), file or memory backend for setUser, listForUser, endAllForUser and endSession.";
    await expect(sessions.listForUser("1")).rejects.toThrow(expected);
    await expect(sessions.endAllForUser("1")).rejects.toThrow(expected);
    await expect(sessions.endSession("1", "f".repeat(64))).rejects.toThrow(expected);
  });
});

describe("the admin's store calls go through the gateway", () => {
  it("answers 503 with a page, over HTTP, when the listing or an action does not answer in time", async () => {
    const backend = hanging([]);
    const sessions = createSessions({ backend, backendTimeoutMs: 50, cookie: { secure: false }, logger: quiet });
    await sessionOf(sessions, "alice");
    const admin = createAdmin({ sessions, authorize: () => true });
    const server: Listening = await listen(createServer(toNodeHandler(admin)));
    cleanups.push(() => server.close());

    const list = await get(server.url, "/admin/sessions/");
    expect(list.status).toBe(200);
    const cookie = (list.headers["set-cookie"]?.[0] ?? "").split(";")[0] as string;
    const csrf = /name="csrf" value="([^"]+)"/.exec(list.body)?.[1] ?? "";

    backend.deleteByUser = never;
    const started = Date.now();
    const ended = await fetch(`${server.url}/admin/sessions/end-user`, {
      method: "POST",
      headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrf, user: "alice", confirmed: "1" }).toString(),
      redirect: "manual",
    });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(ended.status).toBe(503);
    expect(ended.headers.get("cache-control")).toBe("no-store");
    expect(await ended.text()).toContain(
      '<h1>The session store did not answer.</h1><p class="sub">The hanging store is down or overloaded; nothing was changed. Try again in a moment.</p>',
    );

    backend.listSessions = never;
    const hung = await get(server.url, "/admin/sessions/", { Cookie: cookie });
    expect(hung.status).toBe(503);
    expect(hung.body).toContain("<title>Session store unavailable");
  });
});

/** `tessera sessions <args>` against `sessions`: its exit code and what it wrote to stderr. */
async function sessionsCli(args: string[], sessions: Sessions): Promise<{ code: number; stderr: string }> {
  let stderr = "";
  const code = await sessionsCommand(args, {
    stdout: () => {},
    stderr: (t) => void (stderr += t),
    env: {},
    cwd: process.cwd(),
    readStdin: async () => "",
    sessions,
  });
  return { code, stderr };
}

describe("maintenance (clearExpired, migrate) is not cut off by backendTimeoutMs", () => {
  it("a clear or a migration that takes several times backendTimeoutMs finishes with its result (a million expired rows take tens of seconds)", async () => {
    const slow = <T>(value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), 150));
    const backend: ServerBackend = { ...memoryBackend(), name: "slow", clearExpired: async () => slow(7), migrate: async () => slow(undefined) };
    const sessions = createSessions({ backend, backendTimeoutMs: 40, logger: quiet });
    expect(await sessions.clearExpired()).toBe(7);
    await expect(sessions.migrate()).resolves.toBe(undefined);
  });

  it("their failures are still BackendErrors (503) naming the action", async () => {
    const failing = async () => {
      throw new Error("disk I/O error");
    };
    const sessions = createSessions({ backend: { ...memoryBackend(), name: "broken", clearExpired: failing, migrate: failing }, logger: quiet });
    await expect(sessions.clearExpired()).rejects.toMatchObject({
      status: 503,
      message: "[tessera] [broken] could not delete expired sessions: disk I/O error",
    });
    await expect(sessions.migrate()).rejects.toMatchObject({ status: 503, message: "[tessera] [broken] could not migrate the session store: disk I/O error" });
  });
});

describe("the CLI's store calls go through the gateway", () => {
  it("tessera sessions fails with the BackendError (exit 1) instead of hanging", async () => {
    const sessions = createSessions({ backend: hanging(["listSessions"]), backendTimeoutMs: 40, logger: quiet });
    expect(await sessionsCli(["list"], sessions)).toEqual({ code: 1, stderr: `tessera: ${late("hanging", "list sessions", 40).replace("[tessera] ", "")}\n` });
  });
});

describe("a real Redis that stops answering (SIGSTOP)", () => {
  let redis: RedisServer | undefined;
  afterEach(async () => {
    redis?.resume();
    await redis?.stop();
    redis = undefined;
  });

  it("backendTimeoutMs fires before the client's own timeout, for the manager and the CLI, and the store works again once resumed", async () => {
    redis = await startRedis();
    const backend = cacheBackend({ url: redis.url, timeout: 5000 });
    // Seeded with the default limit: the first call also connects.
    const key = await sessionOf(createSessions({ backend, logger: quiet }), "alice");
    const sessions = createSessions({ backend, backendTimeoutMs: 300, logger: quiet });
    cleanups.push(() => sessions.close());
    expect((await sessions.listForUser("alice")).map((s) => s.id)).toEqual([hashKey(key)]);

    redis.pause();
    const started = Date.now();
    const error = await sessions.listForUser("alice").catch((e: unknown) => e);
    const waited = Date.now() - started;
    expect(error).toBeInstanceOf(DeadlineError);
    expect(error).toMatchObject({ status: 503, message: late("redis", "list the user's sessions", 300) });
    expect(waited).toBeGreaterThanOrEqual(290);
    expect(waited).toBeLessThan(3000); // well before the client's 5000 ms

    expect(await sessionsCli(["clear-user", "alice"], sessions)).toEqual({
      code: 1,
      stderr: `tessera: ${late("redis", "end the user's sessions", 300).replace("[tessera] ", "")}\n`,
    });

    redis.resume();
    // A deadline drops the answer, not the command: the clear-user that timed out ran once Redis woke up.
    expect(await sessions.listForUser("alice")).toEqual([]);
  });
});
