/**
 * The tests every cache server (Redis, memcached) gets through `cacheBackend`: the conformance
 * suite plus what only a real server shows (what is stored, TTLs, atomicity, outages).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BackendError,
  createSessions,
  CreateError,
  generateKey,
  hashKey,
  UpdateError,
  VersionConflictError,
  type ServerBackend,
  type SessionWrite,
} from "tessera-sessions";
import { cacheBackend as makeCacheBackend } from "tessera-sessions/backends/cache";
import { runBackendSuite } from "tessera-sessions/testing";
import type { DaemonHandle } from "../servers/daemon.js";

/** Direct access to the server, bypassing Tessera. */
/** What the backend suite skips on a cache server, and why. */
export const CACHE_SERVER_SKIPS = [
  {
    reason: "a cache server's TTL reclaims expired sessions, so there is no clearExpired",
    tests: ["clearExpired deletes exactly the expired records and counts them"],
  },
];

export interface RawStore {
  /** Every key stored on the server. */
  keys(): Promise<string[]>;
  get(id: string): Promise<string | null>;
  /** Seconds the server will keep `id`. */
  ttl(id: string): Promise<number>;
  set(id: string, value: string, ttlSeconds: number): Promise<void>;
  close(): Promise<void>;
}

export interface CacheServerHarness {
  readonly name: string;
  /** Whether the backend keeps the user index on this server. */
  readonly userIndex: boolean;
  /** Whether the backend can list sessions (the admin listing) on this server. */
  readonly listing: boolean;
  start(port?: number): Promise<DaemonHandle & { readonly url: string }>;
  inspect(server: { readonly url: string; readonly port: number }): Promise<RawStore>;
  /** A client of the library users would pass as `client`, already connected. */
  client(server: { readonly url: string; readonly port: number }): Promise<{ readonly client: unknown; isOpen(): boolean; close(): Promise<void> }>;
  /**
   * How every test makes its backend on `server` (default: `cacheBackend({ url: server.url, ...options })`);
   * a harness that passes its own client closes that client in the backend's close().
   */
  backend?(server: { readonly url: string; readonly port: number }, options: { prefix?: string; timeout?: number }): ServerBackend;
  /** The backend's name, when it is not `name`. */
  readonly backendName?: string;
}

const quiet = { warn() {}, error() {} };
const HOUR = 3_600_000;
let prefixes = 0;
const freshPrefix = () => `test${process.pid}-${++prefixes}:`;

function write(data: string, now: number, overrides: Partial<SessionWrite> = {}): SessionWrite {
  return { data, expiresAt: now + HOUR, userId: null, now, ...overrides };
}

/** Polls `attempt` until it stops throwing (or `ms` pass, then its last error is thrown). */
async function eventually<T>(attempt: () => Promise<T>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

export function cacheServerTests(harness: CacheServerHarness): void {
  const cacheBackend = (options: { url: string; prefix?: string; timeout?: number }): ServerBackend => {
    const { url, ...rest } = options;
    if (!harness.backend) return makeCacheBackend(options);
    const port = Number(new URL(url).port);
    return harness.backend({ url, port }, rest);
  };
  describe(`cacheBackend on ${harness.name}`, () => {
    let server: Awaited<ReturnType<CacheServerHarness["start"]>>;
    let raw: RawStore;
    beforeAll(async () => {
      server = await harness.start();
      raw = await harness.inspect(server);
    });
    afterAll(async () => {
      await raw?.close();
      await server?.stop();
    });

    runBackendSuite({
      name: `cache (${harness.name})`,
      create: () => cacheBackend({ url: server.url, prefix: freshPrefix() }),
      userIndex: harness.userIndex,
      listing: harness.listing,
      skip: CACHE_SERVER_SKIPS,
      describe,
      it,
    });

    it("stores only the prefixed SHA-256 of the key, never the key itself", async () => {
      const prefix = freshPrefix();
      const backend = cacheBackend({ url: server.url, prefix });
      const sessions = createSessions({ backend, logger: quiet });
      const session = sessions.open();
      await session.set("user", "jane");
      await sessions.commit(session, 200);
      const key = session.sessionKey as string;
      const ours = (await raw.keys()).filter((id) => id.startsWith(prefix));
      expect(ours).toEqual([prefix + hashKey(key)]);
      const all = await raw.keys();
      expect(all.some((id) => id.includes(key))).toBe(false);
      const stored = (await raw.get(prefix + hashKey(key))) as string;
      expect(stored).not.toContain(key);
      const record = JSON.parse(stored) as Record<string, unknown>;
      expect(Object.keys(record).sort()).toEqual(["createdAt", "data", "expiresAt", "updatedAt", "userId", "version"]);
      expect(record).toMatchObject({ data: '{"user":"jane"}', version: 1, userId: null });
      await backend.close?.();
    });

    it("sets the server's TTL from expiresAt - now, rounded up", async () => {
      const prefix = freshPrefix();
      const backend = cacheBackend({ url: server.url, prefix });
      const key = generateKey();
      const now = Date.now();
      await backend.create(key, write("{}", now, { expiresAt: now + 1800_500 }));
      const ttl = await raw.ttl(prefix + hashKey(key));
      expect(ttl).toBeGreaterThanOrEqual(1790); // a slow machine may take a few seconds
      expect(ttl).toBeLessThanOrEqual(1801);
      await backend.update(key, write("{}", now, { expiresAt: now + 2 * HOUR }), 1);
      const after = await raw.ttl(prefix + hashKey(key));
      expect(after).toBeGreaterThanOrEqual(7190);
      expect(after).toBeLessThanOrEqual(7200);
      await backend.close?.();
    });

    it("lets the app's clock decide expiry, not the TTL", async () => {
      const prefix = freshPrefix();
      const backend = cacheBackend({ url: server.url, prefix });
      const key = generateKey();
      const now = Date.now();
      await backend.create(key, write("{}", now, { expiresAt: now + HOUR }));
      expect(await backend.load(key, now + HOUR - 1)).not.toBeNull();
      expect(await backend.load(key, now + HOUR)).toBeNull();
      // The server still holds it for about an hour: only the clock made it expire.
      expect(await raw.ttl(prefix + hashKey(key))).toBeGreaterThan(3500);
      expect(await backend.exists(key)).toBe(true);
      // Nothing to clear by hand: the TTL reclaims it, so clearExpired is absent and counts 0.
      expect(backend.clearExpired).toBeUndefined();
      expect(await createSessions({ backend, clock: () => now + 2 * HOUR }).clearExpired()).toBe(0);
      await backend.close?.();
    });

    it("create on a taken key is CreateError; update after delete is UpdateError; a stale version is VersionConflictError", async () => {
      const backend = cacheBackend({ url: server.url, prefix: freshPrefix() });
      const key = generateKey();
      const now = Date.now();
      await backend.create(key, write('{"a":1}', now));
      await expect(backend.create(key, write('{"b":2}', now))).rejects.toBeInstanceOf(CreateError);
      await backend.update(key, write('{"a":2}', now + 5), 1);
      await expect(backend.update(key, write('{"a":3}', now + 6), 1)).rejects.toBeInstanceOf(VersionConflictError);
      expect(await backend.load(key, now)).toEqual({
        data: '{"a":2}',
        expiresAt: now + 5 + HOUR,
        version: 2,
        userId: null,
        createdAt: now,
        updatedAt: now + 5,
      });
      await backend.delete(key);
      await expect(backend.update(key, write('{"a":4}', now), 2)).rejects.toBeInstanceOf(UpdateError);
      expect(await backend.exists(key)).toBe(false);
      await backend.close?.();
    });

    it("is atomic: of 20 racing creates of one key, and of 20 racing updates from one version, exactly one wins", async () => {
      const backend = cacheBackend({ url: server.url, prefix: freshPrefix() });
      const key = generateKey();
      const now = Date.now();
      const creates = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => backend.create(key, write(`{"c":${i}}`, now))));
      expect(creates.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      expect(creates.every((r) => r.status === "fulfilled" || r.reason instanceof CreateError)).toBe(true);
      const updates = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => backend.update(key, write(`{"u":${i}}`, now), 1)));
      const winners = updates.flatMap((r, i) => (r.status === "fulfilled" ? [i] : []));
      expect(winners).toHaveLength(1);
      expect(updates.every((r) => r.status === "fulfilled" || r.reason instanceof VersionConflictError)).toBe(true);
      expect(await backend.load(key, now)).toMatchObject({ data: `{"u":${winners[0]}}`, version: 2 });
      await backend.close?.();
    });

    it("treats a value it did not write as no session", async () => {
      const prefix = freshPrefix();
      const backend = cacheBackend({ url: server.url, prefix });
      const key = generateKey();
      await raw.set(prefix + hashKey(key), "not json {", 60);
      expect(await backend.load(key, Date.now())).toBeNull();
      await expect(backend.update(key, write("{}", Date.now()), 1)).rejects.toBeInstanceOf(VersionConflictError);
      await backend.close?.();
    });

    it("keeps all 50 concurrent changes to different keys of one session", async () => {
      const backend = cacheBackend({ url: server.url, prefix: freshPrefix() });
      const sessions = createSessions({ backend, logger: quiet });
      const first = sessions.open();
      await first.set("start", true);
      await sessions.commit(first, 200);
      const key = first.sessionKey as string;
      await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const session = sessions.open(key);
          await session.set(`k${i}`, i);
          await sessions.commit(session, 200);
        }),
      );
      const final = await sessions.open(key).load();
      expect(Object.keys(final)).toHaveLength(51);
      for (let i = 0; i < 50; i++) expect(final[`k${i}`]).toBe(i);
      await backend.close?.();
    });

    it("uses an existing client and leaves it open on close", async () => {
      const existing = await harness.client(server);
      const backend = makeCacheBackend({ client: existing.client, prefix: freshPrefix() });
      const key = generateKey();
      await backend.create(key, write('{"via":"client"}', Date.now()));
      expect((await backend.load(key, Date.now()))?.data).toBe('{"via":"client"}');
      await backend.close?.();
      expect(existing.isOpen()).toBe(true);
      await existing.close();
    });

    it("fails with BackendError (503) while the server is down, does no I/O for untouched sessions, and recovers when it is back", async () => {
      const own = await harness.start();
      const backend = cacheBackend({ url: own.url, timeout: 500 });
      const sessions = createSessions({ backend, logger: quiet });
      try {
        const session = sessions.open();
        await session.set("a", 1);
        await sessions.commit(session, 200);
        const key = session.sessionKey as string;

        await own.stop();
        const started = Date.now();
        const needsStore = sessions.open(key);
        const failure = await needsStore.get("a").then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(failure).toBeInstanceOf(BackendError);
        expect(failure).toMatchObject({ status: 503, backend: harness.backendName ?? harness.name });
        expect(Date.now() - started).toBeLessThan(5000);
        const untouched = sessions.open(key);
        expect(await sessions.commit(untouched, 200)).toEqual({ setCookie: undefined, varyCookie: false });

        const again = await harness.start(own.port);
        try {
          // The same backend reconnects by itself; the restarted server is empty.
          await eventually(async () => {
            const fresh = sessions.open();
            await fresh.set("b", 2);
            await sessions.commit(fresh, 200);
            expect(await sessions.open(fresh.sessionKey as string).get("b")).toBe(2);
          });
          expect(await sessions.open(key).get("a")).toBeUndefined();
        } finally {
          await sessions.close();
          await again.stop();
        }
      } finally {
        await own.stop();
      }
    });

    it("turns a hung server into an error after the timeout, then works once it answers", async () => {
      const own = await harness.start();
      const backend = cacheBackend({ url: own.url, timeout: 300 });
      try {
        const key = generateKey();
        await backend.create(key, write("{}", Date.now()));
        own.pause();
        const started = Date.now();
        await expect(backend.load(key, Date.now())).rejects.toThrow(/did not answer within 300 ms|timed out/);
        expect(Date.now() - started).toBeLessThan(2500); // 300 ms plus a busy machine's slack, far from "never"
        await expect(backend.exists(key)).rejects.toThrow(/did not answer within 300 ms|timed out/); // still hung: fails again, no pile-up
        own.resume();
        expect(await eventually(() => backend.load(key, Date.now()))).not.toBeNull();
      } finally {
        own.resume();
        await backend.close?.();
        await own.stop();
      }
    });
  });
}
