/**
 * The memcached store of `cacheBackend`, through memjs 1.x and the binary protocol.
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { ConfigurationError } from "../../errors.js";
import { importPeer } from "../peer.js";
import { decodeRecord, encodeRecord } from "../record.js";
import { withDeadline, type Store } from "./store.js";

/** The part of a memjs Client this backend uses: its request pipeline, with CAS in the header. */
export interface MemjsLike {
  readonly servers: readonly unknown[];
  readonly seq: number;
  incrSeq(): void;
  perform(key: string, request: Buffer, seq: number, callback: (error: Error | null, response: MemjsResponse | null) => void): void;
  close(): void;
}
/** Whether `client` looks like a memjs Client (its request pipeline and server list). */
export function isMemjsClient(client: object): client is MemjsLike {
  const c = client as { perform?: unknown; servers?: unknown };
  return typeof c.perform === "function" && Array.isArray(c.servers);
}

interface MemjsResponse {
  header: { status: number; cas: Buffer };
  val: Buffer;
}

const OP = { get: 0x00, add: 0x02, replace: 0x03, delete: 0x04 } as const;
/** A user index update loses a CAS race only to another write of the same user's index. */
const INDEX_ATTEMPTS = 20;
const STATUS = { ok: 0, notFound: 1, exists: 2 } as const;

/** A memjs client for `servers` ("host:port[,host:port]"); it connects on first request. */
export async function openMemcached(servers: string, timeout: number): Promise<MemjsLike> {
  const memjs = await importPeer<{ Client?: MemjsFactory; default?: { Client: MemjsFactory } }>("memjs", "cacheBackend with a memcached:// url");
  const factory = memjs.Client ?? memjs.default?.Client;
  if (!factory) throw new ConfigurationError("The installed memjs has no Client export; install memjs@1.");
  // retries: 1 means no retry: a repeated add or replace after a timeout could apply twice.
  return factory.create(servers, { timeout: timeout / 1000, conntimeout: timeout / 1000, retries: 1, keepAlive: true, logger: { log() {} } });
}
interface MemjsFactory {
  create(servers: string, options: object): MemjsLike;
}

/**
 * The Store on a memjs client, speaking the binary protocol through `perform()` so CAS works.
 * `owned`: close the client on close(). `deadline`: the backstop for a request, in ms.
 *
 * memcached cannot list keys, so the user index is a value of its own per user (`users:` and the
 * SHA-256 of the user id, which keeps the key within memcached's 250 bytes): the ids of the
 * user's sessions, updated by compare-and-swap. An id is added BEFORE its record is bound to the
 * user, so the index may hold stale ids (each record decides when read) but never misses one:
 * "sign out everywhere" finds every session. Ids are pruned when the user's sessions are ended.
 * There is no admin listing (no `scan`): memcached cannot enumerate its keys.
 */
export function memcachedStore(open: () => Promise<MemjsLike>, owned: boolean, prefix: string, deadline: number): Store {
  let client: Promise<MemjsLike> | undefined;
  const request = async (opcode: number, bareId: string, value = "", ttl?: number, cas?: Buffer): Promise<MemjsResponse> => {
    const c = await (client ??= open());
    const id = prefix + bareId;
    // extras: 4 bytes of flags, then the expiry; past 30 days memcached reads it as a Unix time.
    const extras = Buffer.alloc(ttl === undefined ? 0 : 8);
    if (ttl !== undefined) extras.writeUInt32BE(ttl > 2_592_000 ? Math.floor(Date.now() / 1000) + ttl : ttl, 4);
    const key = Buffer.from(id);
    const body = Buffer.from(value);
    c.incrSeq();
    const seq = c.seq;
    const packet = Buffer.alloc(24 + extras.length + key.length + body.length);
    packet.writeUInt8(0x80, 0); // request magic
    packet.writeUInt8(opcode, 1);
    packet.writeUInt16BE(key.length, 2);
    packet.writeUInt8(extras.length, 4);
    packet.writeUInt32BE(extras.length + key.length + body.length, 8);
    packet.writeUInt32BE(seq, 12);
    cas?.copy(packet, 16);
    Buffer.concat([extras, key, body]).copy(packet, 24);
    const pending = new Promise<MemjsResponse>((resolve, reject) =>
      c.perform(id, packet, seq, (error, reply) =>
        error || !reply ? reject(error instanceof Error ? error : new Error(`memcached: ${String(error ?? "no reply")}`)) : resolve(reply),
      ),
    );
    // memjs times out itself (per connection attempt and per request); the deadline is a backstop.
    const response = await withDeadline(pending, deadline, "memcached");
    const { status } = response.header;
    if (status > STATUS.exists) throw new Error(`memcached refused the request (status 0x${status.toString(16)}${status === 3 ? ": value too large" : ""})`);
    return response;
  };
  const get = async (id: string) => {
    const response = await request(OP.get, id);
    return response.header.status === STATUS.ok ? response.val.toString("utf8") : null;
  };
  const indexId = (userId: string) => `users:${createHash("sha256").update(userId).digest("hex")}`;
  /** Rewrites a user's id list with `change`, by compare-and-swap; a lost race retries. */
  const changeIndex = async (userId: string, change: (ids: string[]) => string[], ttl: number) => {
    const id = indexId(userId);
    for (let attempt = 0; attempt < INDEX_ATTEMPTS; attempt++) {
      const current = await request(OP.get, id);
      const found = current.header.status === STATUS.ok;
      const stored = found ? parseIndex(current.val.toString("utf8")) : { ids: [], until: 0 };
      const ids = change(stored.ids);
      // The index lives as long as the longest-lived session it has held.
      const until = Math.max(stored.until, Math.floor(Date.now() / 1000) + ttl);
      const value = JSON.stringify({ ids, until });
      const life = Math.max(1, until - Math.floor(Date.now() / 1000));
      const status = found
        ? (await request(OP.replace, id, value, life, current.header.cas)).header.status
        : (await request(OP.add, id, value, life)).header.status;
      if (status === STATUS.ok) return;
    }
    throw new Error(`memcached: the user index kept changing under concurrent writes (${INDEX_ATTEMPTS} attempts)`);
  };
  const addToIndex = (userId: string | null, id: string, ttl: number) =>
    userId === null ? Promise.resolve() : changeIndex(userId, (ids) => (ids.includes(id) ? ids : [...ids, id]), ttl);
  const list = async (userId: string) => {
    const stored = await get(indexId(userId));
    const ids = stored === null ? [] : parseIndex(stored).ids;
    return Promise.all(ids.map(async (id) => ({ id, value: await get(id) })));
  };
  return {
    get,
    async add(id, value, ttl, userId) {
      await addToIndex(userId, id, ttl);
      return (await request(OP.add, id, value, ttl)).header.status === STATUS.ok;
    },
    userIndex: {
      list,
      async deleteAll(userId, exceptId) {
        const ended = new Set<string>();
        for (const { id, value } of await list(userId)) {
          if (id === exceptId || value === null || decodeRecord(value)?.userId !== userId) continue;
          await request(OP.delete, id);
          ended.add(id);
        }
        // Prune what was ended; an id added meanwhile by a concurrent login stays.
        await changeIndex(userId, (ids) => ids.filter((id) => !ended.has(id)), 1);
        return ended.size;
      },
    },
    async swap(id, expected, write, ttl) {
      await addToIndex(write.userId, id, ttl);
      const current = await request(OP.get, id);
      if (current.header.status === STATUS.notFound) return "missing";
      const record = decodeRecord(current.val.toString("utf8"));
      if (record === null || record.version !== expected) return "conflict";
      const next = encodeRecord(write, expected + 1, record.createdAt);
      // The CAS token makes the replace fail if anything wrote or deleted the record since the get.
      const status = (await request(OP.replace, id, next, ttl, current.header.cas)).header.status;
      return status === STATUS.ok ? "ok" : status === STATUS.notFound ? "missing" : "conflict";
    },
    del: async (id) => void (await request(OP.delete, id)),
    has: async (id) => (await request(OP.get, id)).header.status === STATUS.ok,
    async close() {
      const pending = client;
      client = undefined;
      // A client that never opened has nothing to release; its error was already reported.
      const opened = owned ? await pending?.catch(() => undefined) : undefined;
      opened?.close();
    },
  };
}

/** A stored user index; anything unreadable counts as empty (the records decide anyway). */
function parseIndex(text: string): { ids: string[]; until: number } {
  try {
    const value = JSON.parse(text) as { ids?: unknown; until?: unknown };
    const ids = Array.isArray(value.ids) ? value.ids.filter((id): id is string => typeof id === "string") : [];
    return { ids, until: typeof value.until === "number" ? value.until : 0 };
  } catch {
    return { ids: [], until: 0 };
  }
}
