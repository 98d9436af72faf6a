/** cacheBackend on a real redis-server (started per file; see test/servers/redis.ts). */
import { createClient } from "redis";
import { cacheServerTests } from "./cache-server.shared.js";
import { startRedis } from "../servers/redis.js";

cacheServerTests({
  name: "redis",
  start: (port) => startRedis(port === undefined ? {} : { port }),
  async inspect(server) {
    const client = createClient({ url: server.url });
    await client.connect();
    return {
      async keys() {
        const found: string[] = [];
        for await (const batch of client.scanIterator({ COUNT: 1000 })) found.push(...batch);
        return found;
      },
      get: (id) => client.get(id),
      ttl: (id) => client.ttl(id),
      set: async (id, value, ttl) => void (await client.set(id, value, { EX: ttl })),
      close: () => client.close(),
    };
  },
  async client(server) {
    const client = createClient({ url: server.url });
    await client.connect();
    return { client, isOpen: () => client.isOpen, close: () => client.close() };
  },
});
