/** cacheBackend({ url: "memory:" }): the single-process cache is the memory backend itself. */
import { describe, expect, it } from "vitest";
import { ConfigurationError, createSessions, generateKey } from "tessera-sessions";
import { cacheBackend } from "tessera-sessions/backends/cache";
import { runBackendSuite } from "tessera-sessions/testing";

runBackendSuite({ name: "cache (memory:)", create: () => cacheBackend({ url: "memory:" }), userIndex: true, listing: true, describe, it });

describe("cacheBackend memory:", () => {
  it("is the memory backend, clearExpired included (nothing else reclaims its space)", async () => {
    const backend = cacheBackend({ url: "memory:" });
    expect(backend.name).toBe("memory");
    const now = Date.now();
    await backend.create(generateKey(), { data: "{}", expiresAt: now + 10, userId: null, now });
    expect(await backend.clearExpired?.(now + 1000)).toBe(1);
  });

  it("keeps all 50 concurrent changes to different keys of one session", async () => {
    const sessions = createSessions({ backend: cacheBackend({ url: "memory:" }) });
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
  });
});

describe("cacheBackend options", () => {
  it("rejects what cannot work, with a message that says what would", () => {
    expect(() => cacheBackend({ url: "" })).toThrow(ConfigurationError);
    expect(() => cacheBackend({ url: "mongodb://localhost" })).toThrow(/redis:\/\/host:port, rediss:\/\/…, memcached:\/\/host:port or memory:/);
    expect(() => cacheBackend({ url: "redis://user:secret@localhost", timeout: 0 })).toThrow(/timeout/);
    expect(() => cacheBackend({ client: { get() {} } })).toThrow(/node-redis client .* or a memjs Client/);
    expect(() => cacheBackend({ client: "redis://localhost" })).toThrow(/node-redis client .* or a memjs Client/);
    // A password in the URL is never echoed.
    expect(() => cacheBackend({ url: "http://user:secret@localhost" })).toThrow(/^(?!.*secret)/s);
  });

  it("opens no connection until first used", async () => {
    // Nothing listens on port 1: creating (and closing) the backend must not notice.
    const backend = cacheBackend({ url: "redis://127.0.0.1:1", timeout: 200 });
    await backend.close?.();
    const memcached = cacheBackend({ url: "memcached://127.0.0.1:1", timeout: 200 });
    await memcached.close?.();
  });

  it("fails fast with an error, not a hang, when the server is unreachable", async () => {
    const backend = cacheBackend({ url: "redis://127.0.0.1:1", timeout: 300 });
    await expect(backend.load(generateKey(), Date.now())).rejects.toThrow(/redis did not answer within 300 ms \(not connected: .*ECONNREFUSED/);
    await backend.close?.();
    const memcached = cacheBackend({ url: "memcached://127.0.0.1:1", timeout: 300 });
    await expect(memcached.load(generateKey(), Date.now())).rejects.toThrow(/ECONNREFUSED/);
    await memcached.close?.();
  });
});
