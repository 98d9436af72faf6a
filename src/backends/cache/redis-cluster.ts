/**
 * The Redis Cluster store of `cacheBackend`, through node-redis's cluster client
 * (`createCluster`), which follows MOVED/ASK redirections and refreshes the slot map itself.
 *
 * Records and user indexes hash to different slots, so no script may touch both. Every script
 * here touches exactly one key, and the user index is kept with a rule instead of one atomic
 * script: **an id enters a user's index before its record is bound to that user, and leaves it
 * only after the record no longer is**. So the index is always a superset of the truth: every
 * session bound to a user is listed (and ended by `deleteByUser`), while an entry whose record
 * is gone, expired or rebound is tolerated (listings check each record; the entry expires).
 * A process that dies between the two steps leaves only such a harmless extra entry.
 *
 * The index is a sorted set `prefix + "users:" + userId` of record ids, each scored with the
 * Redis time (seconds) until which its record may live, plus a minute; entries past their score
 * are pruned on the next write, and the set itself expires with its longest-lived entry.
 * @module
 */
import { importPeer } from "../peer.js";
import { recordTail } from "../record.js";
import { clientOnFirstUse, replyText, runScript, scanRecordIds, socketOptions } from "./redis-transport.js";
import { DeadlineError, withDeadline, type Store } from "./store.js";

/** The part of a node-redis cluster client this backend uses. */
export interface RedisClusterLike {
  readonly isOpen: boolean;
  readonly masters: readonly unknown[];
  connect(): Promise<unknown>;
  sendCommand(firstKey: string | undefined, isReadonly: boolean | undefined, args: string[], options?: { timeout?: number }): Promise<unknown>;
  nodeClient(node: never): Promise<{ sendCommand(args: string[]): Promise<unknown> }>;
  on(event: "error", listener: (error: Error) => void): unknown;
  close?(): Promise<void>;
  destroy?(): void;
  disconnect?(): Promise<void>;
}

/** Whether `client` looks like a node-redis cluster client (`createCluster()`): it knows its masters. */
export function isClusterClient(client: object): client is RedisClusterLike {
  return "masters" in client && typeof (client as { sendCommand?: unknown }).sendCommand === "function";
}

/** How long an index entry outlives its record's TTL, so it never lapses before the record. */
const MARGIN = 60;

/**
 * KEYS: user index. ARGV: id, TTL. Prunes entries past their time, then makes sure `id` stays
 * until its record's TTL has passed (never shortens), and the set lives as long as its entries.
 */
const INDEX_ADD = `if redis.replicate_commands then pcall(redis.replicate_commands) end
local now = tonumber(redis.call('TIME')[1])
local ttl = tonumber(ARGV[2]) + ${MARGIN}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local current = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or 0)
if current < now + ttl then redis.call('ZADD', KEYS[1], now + ttl, ARGV[1]) end
if redis.call('TTL', KEYS[1]) < ttl then redis.call('EXPIRE', KEYS[1], ttl) end
return 1`;

const USER_OF = `local function user_of(value)
  local ok, record = pcall(cjson.decode, value)
  if ok and type(record) == 'table' then return record, type(record.userId) == 'string' and record.userId or '' end
  return nil, ''
end
`;

/**
 * KEYS: record. ARGV: expected version, the new record without createdAt, TTL. Returns
 * {1, old user id or ""} when replaced, {0, ""} when missing, {-1, ""} for another version.
 */
const SWAP = `${USER_OF}
local current = redis.call('GET', KEYS[1])
if not current then return {0, ''} end
local record, old = user_of(current)
if not record or record.version ~= tonumber(ARGV[1]) then return {-1, ''} end
redis.call('SET', KEYS[1], '{"createdAt":' .. string.format('%.0f', tonumber(record.createdAt) or 0) .. ',' .. ARGV[2] .. '}', 'EX', ARGV[3])
return {1, old}`;

/** KEYS: record. Deletes it; returns its user id ("" if none or it was missing). */
const DELETE = `${USER_OF}
local current = redis.call('GET', KEYS[1])
if not current then return '' end
redis.call('DEL', KEYS[1])
local _, user = user_of(current)
return user`;

/** KEYS: record. ARGV: user id. Deletes it only if it is still bound to that user; 1 if deleted. */
const DELETE_IF_USER = `${USER_OF}
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local _, user = user_of(current)
if user ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1`;

/** Parses `redis+cluster://[user:pass@]host:port,host:port[/]` into node-redis root node URLs. */
export function clusterRootUrls(url: string): string[] {
  const rest = url.slice("redis+cluster://".length).replace(/\/$/, "");
  const at = rest.lastIndexOf("@");
  const auth = at === -1 ? "" : rest.slice(0, at + 1);
  const hosts = (at === -1 ? rest : rest.slice(at + 1)).split(",").filter((h) => h !== "");
  return hosts.map((host) => `redis://${auth}${host}`);
}

/** A node-redis cluster client for `url` (not yet connected). */
export async function openRedisCluster(url: string, timeout: number): Promise<RedisClusterLike> {
  const roots = clusterRootUrls(url);
  const { createCluster } = await importPeer<{ createCluster(options: object): RedisClusterLike }>("redis", "cacheBackend with a redis+cluster:// url");
  return createCluster({
    rootNodes: roots.map((root) => ({ url: root })),
    // Credentials in the URL apply to every node the cluster reveals, not only the seeds.
    defaults: {
      ...credentials(roots[0] ?? ""),
      socket: socketOptions(timeout),
    },
  });
}

function credentials(url: string): { username?: string; password?: string } {
  try {
    const parsed = new URL(url);
    return {
      ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
      ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    };
  } catch {
    return {};
  }
}

/** The Store on a node-redis cluster client; it connects on first use if the client is not open yet. */
export function redisClusterStore(open: () => Promise<RedisClusterLike>, prefix: string, timeout: number): Store {
  const users = `${prefix}users:`;
  // Unlike a single client, the cluster must reach a node to learn the slot map first.
  const client = clientOnFirstUse(
    open,
    (c) =>
      withDeadline(c.connect(), timeout * 2, "redis cluster").then(
        () => undefined,
        (error: Error) => {
          c.destroy?.();
          throw new Error(`could not reach the Redis Cluster: ${error.message}`, { cause: error });
        },
      ),
    timeout,
    "redis cluster",
  );
  const cluster = () => client.current();
  const send = async (key: string, readonly: boolean, args: string[]): Promise<unknown> => {
    const c = await cluster();
    try {
      return await withDeadline(c.sendCommand(key, readonly, args, { timeout }), timeout + 50, "redis cluster");
    } catch (error) {
      const kind = (error as Error)?.constructor?.name ?? "";
      // Redis's own answers (NOSCRIPT, CLUSTERDOWN, WRONGTYPE…) go through as they are
      // (ReplyError: ioredis 5's, through ./ioredis.ts; ioredis 6 raises SimpleError).
      if (["ErrorReply", "SimpleError", "BlobError", "ReplyError"].includes(kind)) throw error;
      if (kind === "TimeoutError" || error instanceof DeadlineError) {
        const why = client.lastError ? ` (last error: ${client.lastError.message})` : "";
        throw new Error(`the Redis Cluster node holding ${key} did not answer within ${timeout} ms${why}`, { cause: error });
      }
      // The node's connection failed (it crashed, or it is restarting).
      throw new Error(`the Redis Cluster node holding ${key} is unreachable: ${(error as Error)?.message ?? String(error)}`, { cause: error });
    }
  };
  // Each script touches one key: it is also what routes the command to its node.
  const run = (script: string, key: string, args: string[]) => runScript((command) => send(key, false, command), script, ["1", key, ...args]);
  const get = async (id: string) => replyText(await send(prefix + id, true, ["GET", prefix + id]));
  const getAll = (ids: readonly string[]) => Promise.all(ids.map(async (id) => ({ id, value: await get(id) })));
  const index = (userId: string, id: string, ttl: number) => run(INDEX_ADD, users + userId, [id, String(ttl)]);
  const unindex = (userId: string, id: string) => send(users + userId, false, ["ZREM", users + userId, id]);
  const members = async (userId: string) =>
    Array.from((await send(users + userId, true, ["ZRANGE", users + userId, "0", "-1"])) as Iterable<unknown>, (id) => replyText(id) as string);
  return {
    get,
    async add(id, value, ttl, userId) {
      if (userId !== null) await index(userId, id, ttl); // indexed before the record exists
      return (await send(prefix + id, false, ["SET", prefix + id, value, "NX", "EX", String(ttl)])) !== null;
    },
    async swap(id, expected, write, ttl) {
      if (write.userId !== null) await index(write.userId, id, ttl); // before the record is bound
      const [status, old] = (await run(SWAP, prefix + id, [String(expected), recordTail(write, expected + 1), String(ttl)])) as [unknown, unknown];
      const reply = Number(status);
      const previous = replyText(old) ?? "";
      if (reply === 1 && previous !== "" && previous !== write.userId) await unindex(previous, id); // after it is unbound
      return reply === 1 ? "ok" : reply === 0 ? "missing" : "conflict";
    },
    async del(id) {
      const user = replyText(await run(DELETE, prefix + id, [])) ?? "";
      if (user !== "") await unindex(user, id);
    },
    has: async (id) => Number(await send(prefix + id, true, ["EXISTS", prefix + id])) > 0,
    userIndex: {
      list: async (userId) => getAll(await members(userId)),
      async deleteAll(userId, exceptId) {
        let count = 0;
        for (const id of await members(userId)) {
          if (id === exceptId) continue;
          if (Number(await run(DELETE_IF_USER, prefix + id, [userId])) === 1) {
            count++;
            await unindex(userId, id);
          }
        }
        return count;
      },
    },
    async scan() {
      const c = await cluster();
      const ids = new Set<string>();
      // Every primary holds its own slots: SCAN each of them.
      for (const master of c.masters) {
        const node = await withDeadline(c.nodeClient(master as never), timeout, "redis cluster");
        await scanRecordIds((command) => withDeadline(node.sendCommand(command), timeout, "redis cluster"), prefix, ids);
      }
      const all = [...ids];
      const entries: { id: string; value: string | null }[] = [];
      for (let i = 0; i < all.length; i += 100) entries.push(...(await getAll(all.slice(i, i + 100))));
      return entries;
    },
    close: () => client.close(),
  };
}
