/** cacheBackend on a real memcached (started per file; see test/servers/memcached.ts). */
import { connect, type Socket } from "node:net";
import memjs from "memjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKey } from "tessera-sessions";
import { cacheBackend } from "tessera-sessions/backends/cache";
import { cacheServerTests } from "./cache-server.shared.js";
import { startMemcached } from "../servers/memcached.js";

/** memcached's text protocol, enough to look at what Tessera stored. */
class TextClient {
  #socket: Socket;
  #buffer = "";
  #waiting: (() => void) | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.#buffer += chunk.toString("utf8");
      this.#waiting?.();
    });
  }

  static open(port: number): Promise<TextClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port }, () => resolve(new TextClient(socket)));
      socket.once("error", reject);
    });
  }

  /** Sends `command` and returns the reply up to and including a line matching `end`. */
  async send(command: string, end: RegExp): Promise<string> {
    this.#buffer = "";
    this.#socket.write(command);
    while (!end.test(this.#buffer)) await new Promise<void>((resolve) => (this.#waiting = resolve));
    return this.#buffer;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#socket.end(resolve));
  }
}

/** One `key=… exp=…` line of `lru_crawler metadump all` per stored item (keys URI-encoded). */
async function metadump(text: TextClient): Promise<{ key: string; exp: number }[]> {
  const reply = await text.send("lru_crawler metadump all\r\n", /^END\r\n/m);
  return [...reply.matchAll(/^key=(\S+) exp=(-?\d+)/gm)].map((m) => ({ key: decodeURIComponent(m[1] as string), exp: Number(m[2]) }));
}

cacheServerTests({
  name: "memcached",
  userIndex: true,
  listing: false,
  start: (port) => startMemcached(port === undefined ? {} : { port }),
  async inspect(server) {
    const text = await TextClient.open(server.port);
    return {
      keys: async () => (await metadump(text)).map((item) => item.key),
      async get(id) {
        const reply = await text.send(`get ${id}\r\n`, /^END\r\n/m);
        const match = /^VALUE \S+ \d+ (\d+)\r\n/.exec(reply);
        if (!match) return null;
        const start = match[0].length;
        return Buffer.from(reply.slice(start), "utf8").subarray(0, Number(match[1])).toString("utf8");
      },
      async ttl(id) {
        const item = (await metadump(text)).find((entry) => entry.key === id);
        if (!item) throw new Error(`${id} is not stored`);
        return item.exp - Math.floor(Date.now() / 1000);
      },
      async set(id, value, ttl) {
        const reply = await text.send(`set ${id} 0 ${ttl} ${Buffer.byteLength(value)}\r\n${value}\r\n`, /\r\n/);
        if (!reply.startsWith("STORED")) throw new Error(`memcached set failed: ${reply}`);
      },
      close: () => text.close(),
    };
  },
  async client(server) {
    const client = memjs.Client.create(`127.0.0.1:${server.port}`, { logger: { log() {} } });
    return { client, isOpen: () => client.servers.every((s) => s.connected), close: async () => client.close() };
  },
});

describe("cacheBackend on memcached: limits", () => {
  let server: Awaited<ReturnType<typeof startMemcached>>;
  beforeAll(async () => {
    server = await startMemcached();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("refuses a session over memcached's item size with an error, never silently", async () => {
    const backend = cacheBackend({ url: server.url });
    const now = Date.now();
    const data = JSON.stringify({ blob: "x".repeat(2 * 1024 * 1024) });
    await expect(backend.create(generateKey(), { data, expiresAt: now + 60_000, userId: null, now })).rejects.toThrow(
      /memcached refused the request \(status 0x3: value too large\)/,
    );
    await backend.close?.();
  });
});
