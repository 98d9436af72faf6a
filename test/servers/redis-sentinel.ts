/**
 * A throwaway Redis Sentinel setup for tests: a primary, one replica (`--replicaof`) and three
 * sentinels (`redis-server <conf> --sentinel`, each with its own writable config file, since
 * sentinels rewrite it) on free loopback ports, quorum 2, a primary declared down after 1 s.
 * Debian package `redis-server` (and `redis-tools` for redis-cli). No persistence. `stop()`
 * leaves nothing behind.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { findBinary, startDaemon, type DaemonHandle } from "./daemon.js";
import { REDIS_TEST_ARGS } from "./redis.js";
import { onExit } from "./util.js";

export interface RedisSentinelServer {
  /** `redis+sentinel://127.0.0.1:<s1>,127.0.0.1:<s2>,127.0.0.1:<s3>/<name>` */
  readonly url: string;
  /** The primary's name the sentinels monitor. */
  readonly name: string;
  readonly sentinelPorts: readonly number[];
  /** The data nodes: [the first primary, its replica]. */
  readonly dataPorts: readonly number[];
  /** The port of the primary the sentinels currently name. */
  primaryPort(): number;
  /** Kills the current primary (SIGKILL, as a crash). */
  killPrimary(): Promise<number>;
  /** Waits (at most `ms`) until the sentinels name a primary other than `oldPort` and it accepts writes. */
  waitForFailover(oldPort: number, ms: number): Promise<number>;
  stop(): Promise<void>;
}

export function redisCli(args: readonly string[]): string {
  const binary = findBinary("redis-cli", "redis-tools");
  const result = spawnSync(binary, args, { encoding: "utf8", timeout: 10_000 });
  if (result.error) throw new Error(`could not run redis-cli: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`redis-cli ${args.join(" ")} failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

const probe = { send: "INFO server\r\n", expect: (pid: number) => `process_id:${pid}\r\n` };

export async function startRedisSentinel(): Promise<RedisSentinelServer> {
  findBinary("redis-cli", "redis-tools");
  const name = "tessera-primary";
  const root = mkdtempSync(join(tmpdir(), "tessera-redis-sentinel-"));
  const disposeOnExit = onExit(() => rmSync(root, { recursive: true, force: true }));
  const data: (DaemonHandle | undefined)[] = [];
  const sentinels: DaemonHandle[] = [];
  try {
    data.push(
      await startDaemon({
        name: "Redis primary",
        binary: "redis-server",
        debianPackage: "redis-server",
        args: (p) => ["--port", String(p), ...REDIS_TEST_ARGS, "--dir", root],
        probe,
      }),
    );
    const primary = (data[0] as DaemonHandle).port;
    data.push(
      await startDaemon({
        name: "Redis replica",
        binary: "redis-server",
        debianPackage: "redis-server",
        args: (p) => ["--port", String(p), ...REDIS_TEST_ARGS, "--dir", root, "--replicaof", "127.0.0.1", String(primary)],
        probe,
      }),
    );
    const replica = (data[1] as DaemonHandle).port;
    // Wait until the replica has synced, so the sentinels see it and can promote it.
    const deadline = Date.now() + 15_000;
    while (!/master_link_status:up/.test(redisCli(["-p", String(replica), "INFO", "replication"]))) {
      if (Date.now() > deadline) throw new Error("the Redis replica did not sync with its primary within 15 s");
      await sleep(100);
    }
    for (let i = 0; i < 3; i++) {
      const conf = join(root, `sentinel-${i}.conf`);
      writeFileSync(
        conf,
        [
          `sentinel monitor ${name} 127.0.0.1 ${primary} 2`,
          `sentinel down-after-milliseconds ${name} 1000`,
          `sentinel failover-timeout ${name} 5000`,
          `sentinel parallel-syncs ${name} 1`,
          "",
        ].join("\n"),
      );
      sentinels.push(
        await startDaemon({
          name: `Redis Sentinel ${i}`,
          binary: "redis-server",
          debianPackage: "redis-server",
          args: (p) => [
            conf,
            "--sentinel",
            "--port",
            String(p),
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "no",
            "--protected-mode",
            "no",
            "--loglevel",
            "warning",
            "--dir",
            root,
          ],
          probe,
        }),
      );
    }
    const sentinelPorts = sentinels.map((s) => s.port);
    const primaryPort = () => {
      for (const port of sentinelPorts) {
        try {
          const [, p] = redisCli(["-p", String(port), "SENTINEL", "get-master-addr-by-name", name])
            .trim()
            .split("\n");
          if (p) return Number(p);
        } catch {
          // ask the next sentinel
        }
      }
      throw new Error("no sentinel names a primary");
    };
    // Wait until every sentinel knows the replica and the other sentinels (quorum for a failover).
    const known = Date.now() + 15_000;
    for (;;) {
      const ok = sentinelPorts.every((port) => {
        const info = redisCli(["-p", String(port), "SENTINEL", "master", name]);
        const field = (f: string) => Number(new RegExp(`(?:^|\\n)${f}\\n(\\d+)`).exec(info)?.[1] ?? 0);
        return field("num-slaves") >= 1 && field("num-other-sentinels") >= 2;
      });
      if (ok) break;
      if (Date.now() > known) throw new Error("the sentinels did not discover the replica and each other within 15 s");
      await sleep(200);
    }
    return {
      url: `redis+sentinel://${sentinelPorts.map((p) => `127.0.0.1:${p}`).join(",")}/${name}`,
      name,
      sentinelPorts,
      dataPorts: [primary, replica],
      primaryPort,
      async killPrimary() {
        const port = primaryPort();
        const i = data.findIndex((d) => d?.port === port);
        await data[i]?.kill();
        data[i] = undefined;
        return port;
      },
      async waitForFailover(oldPort, ms) {
        const end = Date.now() + ms;
        for (;;) {
          let port: number | undefined;
          try {
            port = primaryPort();
          } catch {
            port = undefined;
          }
          if (port !== undefined && port !== oldPort && /role:master/.test(redisCli(["-p", String(port), "INFO", "replication"]))) return port;
          if (Date.now() > end) throw new Error(`the sentinels did not promote a replica within ${ms} ms`);
          await sleep(200);
        }
      },
      async stop() {
        await Promise.all([...sentinels, ...data].map((d) => d?.stop()));
        rmSync(root, { recursive: true, force: true });
        disposeOnExit();
      },
    };
  } catch (error) {
    await Promise.all([...sentinels, ...data].map((d) => d?.kill()));
    rmSync(root, { recursive: true, force: true });
    disposeOnExit();
    throw error;
  }
}
