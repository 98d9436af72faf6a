/**
 * The Redis / Valkey store of `cacheBackend`, through node-redis 4 or 5 (the client Redis
 * maintains; it speaks to Valkey too).
 * @module
 */
import { Buffer } from "node:buffer";
import { importPeer } from "../db/driver.js";
import { recordTail, withDeadline, type Store } from "./store.js";

/** The part of a node-redis client this backend uses. */
export interface RedisLike {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  sendCommand(args: string[], options?: { timeout?: number }): Promise<unknown>;
  on(event: "error", listener: (error: Error) => void): unknown;
  close?(): Promise<void>;
  destroy?(): void;
  quit?(): Promise<unknown>;
}

/**
 * KEYS[1] = id; ARGV = expected version, the new record without createdAt, TTL seconds.
 * Returns 1 (replaced), 0 (missing) or -1 (another version). The old createdAt is kept;
 * %.0f prints a millisecond timestamp exactly (Lua numbers are doubles).
 */
const SWAP_SCRIPT = `local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local ok, record = pcall(cjson.decode, current)
if not ok or type(record) ~= 'table' or record.version ~= tonumber(ARGV[1]) then return -1 end
redis.call('SET', KEYS[1], '{"createdAt":' .. string.format('%.0f', tonumber(record.createdAt) or 0) .. ',' .. ARGV[2] .. '}', 'EX', ARGV[3])
return 1`;

/** A node-redis client for `url` (not yet connected). */
export async function openRedis(url: string, timeout: number): Promise<RedisLike> {
  const { createClient } = await importPeer<{ createClient(options: object): RedisLike }>("redis", "cacheBackend with a redis:// url");
  return createClient({
    url,
    // Keep reconnecting so the backend recovers by itself when Redis is back; the backoff stays
    // under `timeout`, so a request arriving just after the server returns does not time out.
    socket: { connectTimeout: timeout, reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2000, Math.max(100, timeout)) },
  });
}

/** The Store on a node-redis client; it connects on first use if the client is not open yet. */
export function redisStore(open: () => Promise<RedisLike>, timeout: number): Store {
  let client: Promise<RedisLike> | undefined;
  let opened = false;
  let lastError: Error | undefined;
  const connect = async (): Promise<RedisLike> => {
    const c = await open();
    if (!c.isOpen) {
      // Tessera opens it, so Tessera listens (an unheard "error" event would crash the process)
      // and closes it; failures surface on the commands themselves.
      opened = true;
      c.on("error", (error) => void (lastError = error));
      // Not awaited: while the server is down this retries forever; commands wait in node-redis's
      // queue and fail after `timeout`, and run again as soon as the server answers.
      c.connect().catch((error: Error) => void (lastError = error));
    }
    return c;
  };
  const send = async (args: string[]): Promise<unknown> => {
    const c = await (client ??= connect());
    try {
      // node-redis drops a timed-out command from its queue; the deadline is only a backstop.
      return await withDeadline(c.sendCommand(args, { timeout }), timeout + 1000, "redis");
    } catch (error) {
      if ((error as Error)?.constructor?.name !== "TimeoutError") throw error; // node-redis's has no name or message
      const why = lastError && !c.isReady ? ` (not connected: ${lastError.message})` : "";
      throw new Error(`redis did not answer within ${timeout} ms${why}`, { cause: error });
    }
  };
  const text = (reply: unknown) => (reply === null || reply === undefined ? null : Buffer.isBuffer(reply) ? reply.toString("utf8") : String(reply));
  return {
    get: async (id) => text(await send(["GET", id])),
    add: async (id, value, ttl) => (await send(["SET", id, value, "NX", "EX", String(ttl)])) !== null,
    async swap(id, expected, write, ttl) {
      const reply = Number(await send(["EVAL", SWAP_SCRIPT, "1", id, String(expected), recordTail(write, expected + 1), String(ttl)]));
      return reply === 1 ? "ok" : reply === 0 ? "missing" : "conflict";
    },
    del: async (id) => void (await send(["DEL", id])),
    has: async (id) => Number(await send(["EXISTS", id])) > 0,
    async close() {
      const pending = client;
      client = undefined;
      if (!pending || !opened) return;
      const c = await pending;
      if (!c.isOpen) return;
      // A graceful close waits for replies that will never come from a dead server.
      if (c.isReady && c.close) await withDeadline(c.close(), timeout, "redis").catch(() => c.destroy?.());
      else if (c.destroy) c.destroy();
      else await c.quit?.();
    },
  };
}

