/**
 * A throwaway memcached for tests: a free loopback port (or a given one, to restart it where it
 * was), TCP only, 64 MB. It keeps everything in memory, so `stop()` leaves nothing behind.
 */
import { startDaemon, type DaemonHandle } from "./daemon.js";

export interface MemcachedServer extends DaemonHandle {
  /** `memcached://127.0.0.1:<port>` */
  readonly url: string;
}

/** Starts memcached (Debian package `memcached`) and waits until it answers. */
export async function startMemcached(options: { port?: number } = {}): Promise<MemcachedServer> {
  // memcached refuses to run as root unless told which user to become.
  const asUser = process.getuid?.() === 0 ? ["-u", "memcache"] : [];
  const server = await startDaemon({
    name: "memcached",
    binary: "memcached",
    debianPackage: "memcached",
    port: options.port,
    args: (port) => ["-l", "127.0.0.1", "-p", String(port), "-U", "0", "-m", "64", ...asUser],
    probe: { send: "stats\r\n", expect: (pid) => `STAT pid ${pid}\r\n` },
  });
  return { ...server, url: `memcached://127.0.0.1:${server.port}` };
}
