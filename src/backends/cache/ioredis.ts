/**
 * ioredis clients for `cacheBackend({ client })`: a plain client (`new Redis(…)`), a Sentinel
 * client (`new Redis({ sentinels, name })`) and a cluster client (`new Redis.Cluster([…])`).
 *
 * ioredis is never imported: a client the app passes is recognised by its shape and given the
 * shape of the node-redis client the stores already speak to (./redis.ts for a plain or Sentinel
 * client, ./redis-cluster.ts for a cluster), so the scripts, the NOSCRIPT fallback, reply
 * decoding and SCAN are the shared ones of ./redis-transport.ts. Every command goes through
 * ioredis's generic `call(name, ...args)`: it routes EVALSHA/EVAL by their keys on a cluster,
 * and follows a failover on Sentinel. Replies come back as strings, numbers, arrays and null,
 * which the transport's decoding takes as they are.
 *
 * An ioredis client connects, and reconnects, by itself: it is always the app's, so Tessera
 * never connects, closes or listens to it (an "error" listener of ours would hide the app's
 * "Unhandled error event" log). A command on a client that is reconnecting waits in ioredis's
 * offline queue; the store's deadline turns that into an error after `timeout`.
 * @module
 */
import { ConfigurationError } from "../../errors.js";
import type { RedisLike } from "./redis.js";
import type { RedisClusterLike } from "./redis-cluster.js";

/** The part of an ioredis client (`Redis` or `Cluster`) this backend uses. */
export interface IoredisLike {
  /** "wait", "connecting", "connect", "ready", "reconnecting", "close", "end"… */
  readonly status: string;
  readonly isCluster: boolean;
  readonly options: {
    readonly keyPrefix?: unknown;
    readonly sentinels?: unknown;
    readonly role?: unknown;
    readonly redisOptions?: { readonly keyPrefix?: unknown };
  };
  call(command: string, ...args: string[]): Promise<unknown>;
  evalsha(...args: unknown[]): Promise<unknown>;
}

/** An ioredis cluster client (`new Redis.Cluster([…])`). */
export interface IoredisClusterLike extends IoredisLike {
  readonly isCluster: true;
  /** The clients of the primaries the slot map currently names. */
  nodes(role: "master"): IoredisLike[];
}

/** Whether `client` looks like an ioredis client (plain, Sentinel or cluster). Ask before the node-redis checks: an ioredis client has a `sendCommand` too. */
export function isIoredisClient(client: object): client is IoredisLike {
  const c = client as Record<string, unknown>;
  return (
    typeof c["call"] === "function" &&
    typeof c["evalsha"] === "function" &&
    typeof c["status"] === "string" &&
    typeof c["isCluster"] === "boolean" &&
    typeof c["options"] === "object" &&
    c["options"] !== null
  );
}

/** Whether the ioredis client is a cluster client. */
export function isIoredisCluster(client: IoredisLike): client is IoredisClusterLike {
  return client.isCluster && typeof (client as { nodes?: unknown }).nodes === "function";
}

/** Whether the ioredis client finds its primary through sentinels (`sentinels` + `name`). */
export function isIoredisSentinel(client: IoredisLike): boolean {
  return !client.isCluster && Array.isArray(client.options.sentinels) && client.options.sentinels.length > 0;
}

/**
 * Rejects ioredis options under which the stores cannot work, at startup:
 * - `keyPrefix`: ioredis prefixes the keys it sees in a command, but not the keys the scripts
 *   build from their arguments (the user index) nor the keys SCAN returns, so the records and
 *   their index would drift apart.
 * - `role: "slave"` on Sentinel: every write would fail (READONLY).
 */
export function checkIoredisOptions(client: IoredisLike): void {
  const keyPrefix = client.isCluster ? (client.options.redisOptions?.keyPrefix ?? client.options.keyPrefix) : client.options.keyPrefix;
  if (keyPrefix !== undefined && keyPrefix !== "") {
    throw new ConfigurationError(
      "cacheBackend cannot use an ioredis client with keyPrefix (its scripts and SCAN would not see the prefix): pass a client without keyPrefix and set cacheBackend's prefix option instead.",
    );
  }
  if (isIoredisSentinel(client) && client.options.role === "slave") {
    throw new ConfigurationError(
      'cacheBackend needs the Sentinel primary, but this ioredis client has role: "slave" (read-only): pass a client with the default role: "master".',
    );
  }
}

/** Sends `[name, ...args]` through ioredis's generic command call. */
function call(client: IoredisLike, args: readonly string[]): Promise<unknown> {
  const [name, ...rest] = args;
  return client.call(name as string, ...rest);
}

/**
 * A plain or Sentinel ioredis client seen as the node-redis client of ./redis.ts. `isOpen` is
 * always true, so the store never connects or closes it; `isReady` is ioredis's "ready" status.
 */
export function ioredisAsClient(client: IoredisLike): RedisLike {
  return {
    isOpen: true,
    get isReady() {
      return client.status === "ready";
    },
    connect: async () => undefined,
    sendCommand: (args) => call(client, args),
    on: () => undefined,
  };
}

/**
 * An ioredis cluster client seen as the node-redis cluster client of ./redis-cluster.ts: each
 * command is routed by ioredis from its keys (the store's routing key is one of them), and the
 * primaries for SCAN are the clients ioredis keeps for them.
 */
export function ioredisClusterAsClient(cluster: IoredisClusterLike): RedisClusterLike {
  return {
    isOpen: true,
    get masters() {
      return cluster.nodes("master");
    },
    connect: async () => undefined,
    sendCommand: (_firstKey, _isReadonly, args) => call(cluster, args),
    nodeClient: async (node) => {
      const primary = node as unknown as IoredisLike;
      return { sendCommand: (args: string[]) => call(primary, args) };
    },
    on: () => undefined,
  };
}
