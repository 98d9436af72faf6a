/**
 * A throwaway redis-server for tests: a free loopback port (or a given one, to restart it where
 * it was), a temporary directory, no persistence. `stop()` leaves nothing behind.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDaemon, type DaemonHandle } from "./daemon.js";

/** Every test Redis: loopback only, no RDB snapshots and no AOF (it starts empty and leaves no files), in the foreground. */
export const REDIS_TEST_ARGS = [
  "--bind",
  "127.0.0.1",
  "--save",
  "",
  "--appendonly",
  "no",
  "--daemonize",
  "no",
  "--protected-mode",
  "no",
  "--loglevel",
  "warning",
];

export interface RedisServer extends DaemonHandle {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
}

/** Starts redis-server (Debian package `redis-server`) and waits until it answers. */
export async function startRedis(options: { port?: number } = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), "tessera-redis-"));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    const server = await startDaemon({
      name: "Redis",
      binary: "redis-server",
      debianPackage: "redis-server",
      port: options.port,
      args: (port) => ["--port", String(port), ...REDIS_TEST_ARGS, "--dir", dir],
      probe: { send: "INFO server\r\n", expect: (pid) => `process_id:${pid}\r\n` },
      cleanup,
    });
    return { ...server, url: `redis://127.0.0.1:${server.port}` };
  } catch (error) {
    cleanup();
    throw error;
  }
}
