/**
 * Redis Sentinel for `cacheBackend`: a primary with replicas, watched by sentinels that promote
 * a replica when the primary fails. node-redis's sentinel client (`createSentinel`) asks the
 * sentinels where the primary is and follows a failover by itself; every command here goes to
 * the primary, so the store is the standalone Redis store (./redis.ts) with its scripts
 * unchanged, on an adapter that gives the sentinel client the shape of a plain client.
 * @module
 */
import { importPeer } from "../peer.js";
import type { RedisLike } from "./redis.js";
import { socketOptions } from "./redis-transport.js";

/** The part of a node-redis sentinel client (`createSentinel()`) this backend uses. */
export interface RedisSentinelLike {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  sendCommand(isReadonly: boolean | undefined, args: string[], options?: { timeout?: number }): Promise<unknown>;
  on(event: "error", listener: (error: Error) => void): unknown;
  close?(): Promise<void>;
  destroy?(): Promise<void> | void;
}

/** Whether `client` looks like a node-redis sentinel client (it has leases and `use`, a plain client does not). */
export function isSentinelClient(client: object): client is RedisSentinelLike {
  const c = client as Record<string, unknown>;
  return (
    typeof c["sendCommand"] === "function" && typeof c["acquire"] === "function" && typeof c["use"] === "function" && typeof c["getSentinelNode"] === "function"
  );
}

/** The parts of `redis+sentinel://[user:pass@]host:port[,host:port…]/<masterName>`. */
export function parseSentinelUrl(url: string): { name: string; nodes: { host: string; port: number }[]; username?: string; password?: string } {
  const rest = url.slice("redis+sentinel://".length);
  const slash = rest.indexOf("/");
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const name = slash === -1 ? "" : decodeURIComponent(rest.slice(slash + 1).replace(/\/$/, ""));
  const at = authority.lastIndexOf("@");
  const auth = at === -1 ? "" : authority.slice(0, at);
  const colon = auth.indexOf(":");
  const username = decodeURIComponent(colon === -1 ? auth : auth.slice(0, colon));
  const password = colon === -1 ? "" : decodeURIComponent(auth.slice(colon + 1));
  const nodes = (at === -1 ? authority : authority.slice(at + 1))
    .split(",")
    .filter((h) => h !== "")
    .map((h) => {
      const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(h);
      return { host: (m?.[1] ?? h).replace(/^\[|\]$/g, ""), port: Number(m?.[2] ?? 26379) };
    });
  return { name, nodes, ...(username ? { username } : {}), ...(password ? { password } : {}) };
}

/**
 * A plain-client view of a sentinel client. Commands wait for the first connection (the
 * sentinels must name the primary first); if it fails, the next command tries again.
 */
export function sentinelAsClient(sentinel: RedisSentinelLike): RedisLike {
  let ready: Promise<unknown> | undefined;
  const connect = () => {
    const attempt = sentinel.connect();
    ready = attempt;
    attempt.catch(() => {
      if (ready === attempt) ready = undefined;
    });
    return attempt;
  };
  return {
    get isOpen() {
      return sentinel.isOpen || ready !== undefined;
    },
    get isReady() {
      return sentinel.isReady;
    },
    connect,
    async sendCommand(args, options) {
      if (!sentinel.isOpen) await (ready ?? connect());
      else if (ready) await ready;
      return sentinel.sendCommand(false, args, options);
    },
    on: (event, listener) => sentinel.on(event, listener),
    ...(sentinel.close ? { close: () => (sentinel.close as () => Promise<void>).call(sentinel) } : {}),
    destroy: () => void Promise.resolve(sentinel.destroy?.()).catch(() => {}),
  };
}

/** A node-redis sentinel client for `url` (not yet connected), seen as a plain client. */
export async function openRedisSentinel(url: string, timeout: number): Promise<RedisLike> {
  const { name, nodes, username, password } = parseSentinelUrl(url);
  const { createSentinel } = await importPeer<{ createSentinel?(options: object): RedisSentinelLike }>("redis", "cacheBackend with a redis+sentinel:// url");
  if (typeof createSentinel !== "function")
    throw new Error("cacheBackend with a redis+sentinel:// url needs node-redis 5 or later (the installed `redis` has no createSentinel)");
  const socket = socketOptions(timeout);
  return sentinelAsClient(
    createSentinel({
      name,
      sentinelRootNodes: nodes,
      // Credentials in the URL are the data nodes' (sentinels usually have none of their own).
      nodeClientOptions: { ...(username ? { username } : {}), ...(password ? { password } : {}), socket },
      sentinelClientOptions: { socket },
    }),
  );
}
