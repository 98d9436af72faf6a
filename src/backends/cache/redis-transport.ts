/**
 * What the standalone (and Sentinel) Redis store and the Redis Cluster store share about talking
 * to Redis through node-redis: socket options with the reconnect strategy, reply decoding,
 * scripts by SHA1 with the NOSCRIPT fallback, SCAN of a node, and closing a client.
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { isSessionId } from "../../keys.js";
import { withDeadline } from "./store.js";

/** Sends one command (its arguments) and resolves to the reply. */
export type Send = (args: string[]) => Promise<unknown>;

/**
 * node-redis socket options: `timeout` to connect, and reconnecting for ever so the backend
 * recovers by itself when Redis is back, with a backoff that stays under `timeout`, so a request
 * arriving just after the server returns does not time out.
 */
export function socketOptions(timeout: number): { connectTimeout: number; reconnectStrategy: (retries: number) => number } {
  return { connectTimeout: timeout, reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 2000, Math.max(100, timeout)) };
}

/** A reply as text (node-redis gives strings or Buffers), or null for a nil reply. */
export function replyText(reply: unknown): string | null {
  return reply === null || reply === undefined ? null : Buffer.isBuffer(reply) ? reply.toString("utf8") : String(reply);
}

/** Each script's SHA1, the name EVALSHA runs it by. */
const shas = new Map<string, string>();

/**
 * Runs a Lua script by its SHA1 (EVALSHA, `args` being its key count, keys and arguments), sending
 * its text only when the server does not have it yet (NOSCRIPT), which caches it for next time.
 */
export async function runScript(send: Send, script: string, args: string[]): Promise<unknown> {
  let sha = shas.get(script);
  if (sha === undefined) shas.set(script, (sha = createHash("sha1").update(script).digest("hex")));
  try {
    return await send(["EVALSHA", sha, ...args]);
  } catch (error) {
    if (!String((error as Error)?.message).startsWith("NOSCRIPT")) throw error;
    return send(["EVAL", script, ...args]);
  }
}

/** Adds to `ids` the id of every record under `prefix` on one node (SCAN, which may return a key twice). */
export async function scanRecordIds(send: Send, prefix: string, ids: Set<string>): Promise<void> {
  const pattern = `${prefix.replace(/[*?[\]\\]/g, "\\$&")}*`;
  let cursor = "0";
  do {
    const [next, keys] = (await send(["SCAN", cursor, "MATCH", pattern, "COUNT", "1000"])) as [unknown, Iterable<unknown>];
    cursor = replyText(next) ?? "0";
    for (const found of keys) {
      const id = (replyText(found) ?? "").slice(prefix.length);
      if (isSessionId(id)) ids.add(id); // records only, not the user indexes
    }
  } while (cursor !== "0");
}

/** The closing methods node-redis clients have (which ones depends on the client and version). */
export interface Closable {
  readonly isOpen: boolean;
  readonly isReady?: boolean;
  close?(): Promise<void>;
  destroy?(): Promise<void> | void;
  quit?(): Promise<unknown>;
  disconnect?(): Promise<void>;
}

/**
 * Closes a client Tessera opened: gracefully while it is connected, but for at most `timeout` ms
 * (a graceful close waits for replies that will never come from a dead server), else at once.
 */
export async function closeClient(c: Closable, timeout: number, name: string): Promise<void> {
  if (!c.isOpen) return;
  if (c.isReady !== false && c.close) await withDeadline(c.close(), timeout, name).catch(() => c.destroy?.());
  else if (c.destroy) await c.destroy();
  else await (c.quit ?? c.disconnect)?.call(c);
}

/** The part of a node-redis client (plain, sentinel or cluster) that opening it takes. */
export interface Connectable extends Closable {
  connect(): Promise<unknown>;
  on(event: "error", listener: (error: Error) => void): unknown;
}

/** A client opened on first use (see {@link clientOnFirstUse}). */
export interface ClientSlot<C> {
  /** The client, opened on first use; an opening that failed is tried again on the next call. */
  current(): Promise<C>;
  /** The last error the client reported, when Tessera opened it. */
  readonly lastError: Error | undefined;
  /** Forgets `pending` if it is still the client and Tessera opened it, so the next call opens afresh; false otherwise. */
  drop(pending: Promise<C>): boolean;
  /** Closes the client if Tessera opened it (a client the app passed in is the app's to close). */
  close(): Promise<void>;
}

/**
 * The client `open` gives, connected by `connect` if it is not open yet (`noteError` keeps an
 * error for later messages). Tessera then owns it: it
 * listens for its errors (an unheard "error" event would crash the process) and closes it.
 */
export function clientOnFirstUse<C extends Connectable>(
  open: () => Promise<C>,
  connect: (c: C, noteError: (error: Error) => void) => Promise<void>,
  timeout: number,
  name: string,
): ClientSlot<C> {
  let client: Promise<C> | undefined;
  let opened = false;
  let lastError: Error | undefined;
  const start = async (): Promise<C> => {
    const c = await open();
    if (!c.isOpen) {
      opened = true;
      const noteError = (error: Error) => void (lastError = error);
      c.on("error", noteError);
      await connect(c, noteError);
    }
    return c;
  };
  return {
    current() {
      if (client === undefined) {
        const attempt = start();
        client = attempt;
        attempt.catch(() => {
          if (client === attempt) client = undefined;
        });
      }
      return client;
    },
    get lastError() {
      return lastError;
    },
    drop(pending) {
      if (!opened || client !== pending) return false;
      client = undefined;
      return true;
    },
    async close() {
      const pending = client;
      client = undefined;
      const c = opened ? await pending?.catch(() => undefined) : undefined;
      if (c) await closeClient(c, timeout, name);
    },
  };
}
