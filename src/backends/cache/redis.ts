/**
 * The Redis / Valkey store of `cacheBackend`, through node-redis 4 or 5 (the client Redis
 * maintains; it speaks to Valkey too).
 * @module
 */
import { importPeer } from "../peer.js";
import { recordTail } from "../record.js";
import { clientOnFirstUse, replyText, runScript, scanRecordIds, socketOptions } from "./redis-transport.js";
import { DeadlineError, withDeadline, type Store } from "./store.js";

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

/** Whether `client` looks like a node-redis client (`createClient()`); tell a cluster or sentinel client apart first. */
export function isRedisClient(client: object): client is RedisLike {
  return typeof (client as { sendCommand?: unknown }).sendCommand === "function";
}

/**
 * Lua scripts: each runs atomically in Redis. Records live at `prefix + id`; a user's index is
 * the set `prefix + "user:" + userId` of record ids, expiring with its longest-lived record.
 * The scripts touch the index sets they derive from a record, so they need a standalone Redis
 * (or Valkey), not a cluster.
 */
const INDEX = `local function index(set, id, ttl)
  redis.call('SADD', set, id)
  if redis.call('TTL', set) < ttl then redis.call('EXPIRE', set, ttl) end
end
local function user_of(value)
  local ok, record = pcall(cjson.decode, value)
  if ok and type(record) == 'table' then return record, type(record.userId) == 'string' and record.userId or nil end
  return nil, nil
end
`;

/** KEYS: record, user set. ARGV: value, TTL, id. 1 if stored, 0 if the id was taken. */
const ADD_SCRIPT = `${INDEX}
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 0 end
index(KEYS[2], ARGV[3], tonumber(ARGV[2]))
return 1`;

/**
 * KEYS: record. ARGV: expected version, the new record without createdAt, TTL, user-set prefix,
 * id, "u" + new user id (or ""). 1 (replaced), 0 (missing) or -1 (another version). The old
 * createdAt is kept; %.0f prints a millisecond timestamp exactly (Lua numbers are doubles).
 */
const SWAP_SCRIPT = `${INDEX}
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local record, old = user_of(current)
if not record or record.version ~= tonumber(ARGV[1]) then return -1 end
redis.call('SET', KEYS[1], '{"createdAt":' .. string.format('%.0f', tonumber(record.createdAt) or 0) .. ',' .. ARGV[2] .. '}', 'EX', ARGV[3])
local new = ARGV[6] ~= '' and string.sub(ARGV[6], 2) or nil
if old and old ~= new then redis.call('SREM', ARGV[4] .. old, ARGV[5]) end
if new then index(ARGV[4] .. new, ARGV[5], tonumber(ARGV[3])) end
return 1`;

/** KEYS: record. ARGV: user-set prefix, id. Deletes the record and its index entry. */
const DELETE_SCRIPT = `${INDEX}
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
redis.call('DEL', KEYS[1])
local _, user = user_of(current)
if user then redis.call('SREM', ARGV[1] .. user, ARGV[2]) end
return 1`;

/** KEYS: user set. ARGV: record prefix, user id, id to keep (or ""). Returns how many were deleted. */
const DELETE_USER_SCRIPT = `${INDEX}
local count = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local current = redis.call('GET', ARGV[1] .. id)
  local _, user = user_of(current or '')
  if user ~= ARGV[2] then redis.call('SREM', KEYS[1], id)
  elseif id ~= ARGV[3] then
    redis.call('DEL', ARGV[1] .. id)
    redis.call('SREM', KEYS[1], id)
    count = count + 1
  end
end
return count`;

/** A node-redis client for `url` (not yet connected). */
export async function openRedis(url: string, timeout: number): Promise<RedisLike> {
  const { createClient } = await importPeer<{ createClient(options: object): RedisLike }>("redis", "cacheBackend with a redis:// url");
  return createClient({ url, socket: socketOptions(timeout) });
}

/** The Store on a node-redis client; it connects on first use if the client is not open yet. */
export function redisStore(open: () => Promise<RedisLike>, prefix: string, timeout: number): Store {
  const users = `${prefix}user:`;
  // Not awaited: while the server is down this retries forever; commands wait in node-redis's
  // queue and fail after `timeout`, and run again as soon as the server answers.
  const client = clientOnFirstUse(open, async (c, noteError) => void c.connect().catch(noteError), timeout, "redis");
  const send = async (args: string[]): Promise<unknown> => {
    const current = client.current();
    const c = await current;
    try {
      // node-redis's timeout covers only the wait in its queue (while disconnected): asked for
      // only then, as it costs an AbortSignal timer per command. Once a command is sent, only the
      // deadline ends the wait for a reply from a hung server.
      return await withDeadline(c.sendCommand(args, c.isReady ? undefined : { timeout }), timeout + 50, "redis");
    } catch (error) {
      const hung = error instanceof DeadlineError;
      if (!hung && (error as Error)?.constructor?.name !== "TimeoutError") throw error; // node-redis's has no name or message
      // Replies on this connection may never come: drop it, and the next command connects afresh.
      if (hung && client.drop(current)) c.destroy?.();
      const lastError = client.lastError;
      const why = !hung && lastError && !c.isReady ? ` (not connected: ${lastError.message})` : "";
      throw new Error(`redis did not answer within ${timeout} ms${why}`, { cause: error });
    }
  };
  const run = (script: string, args: string[]) => runScript(send, script, args);
  /** The values of records `ids`, in one MGET. */
  const mget = async (ids: readonly string[]) => {
    const values = Array.from((await send(["MGET", ...ids.map((id) => prefix + id)])) as Iterable<unknown>);
    return ids.map((id, i) => ({ id, value: replyText(values[i]) }));
  };
  return {
    get: async (id) => replyText(await send(["GET", prefix + id])),
    async add(id, value, ttl, userId) {
      if (userId === null) return (await send(["SET", prefix + id, value, "NX", "EX", String(ttl)])) !== null;
      return Number(await run(ADD_SCRIPT, ["2", prefix + id, users + userId, value, String(ttl), id])) === 1;
    },
    async swap(id, expected, write, ttl) {
      const user = write.userId === null ? "" : `u${write.userId}`;
      const reply = Number(await run(SWAP_SCRIPT, ["1", prefix + id, String(expected), recordTail(write, expected + 1), String(ttl), users, id, user]));
      return reply === 1 ? "ok" : reply === 0 ? "missing" : "conflict";
    },
    del: async (id) => void (await run(DELETE_SCRIPT, ["1", prefix + id, users, id])),
    has: async (id) => Number(await send(["EXISTS", prefix + id])) > 0,
    userIndex: {
      async list(userId) {
        const ids = Array.from((await send(["SMEMBERS", users + userId])) as Iterable<unknown>, (id) => replyText(id) as string);
        return ids.length === 0 ? [] : mget(ids);
      },
      deleteAll: async (userId, exceptId) => Number(await run(DELETE_USER_SCRIPT, ["1", users + userId, prefix, userId, exceptId ?? ""])),
    },
    async scan() {
      const ids = new Set<string>();
      await scanRecordIds(send, prefix, ids);
      const all = [...ids];
      const entries: { id: string; value: string | null }[] = [];
      for (let i = 0; i < all.length; i += 500) entries.push(...(await mget(all.slice(i, i + 500))));
      return entries;
    },
    close: () => client.close(),
  };
}
