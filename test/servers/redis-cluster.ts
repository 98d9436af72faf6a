/**
 * A throwaway 3-primary Redis Cluster for tests: three `redis-server --cluster-enabled yes` on
 * free loopback ports, joined with `redis-cli --cluster create … --cluster-replicas 0
 * --cluster-yes` (Debian packages `redis-server` and `redis-tools`; `redis-server` depends on
 * the latter). No persistence: a restarted node keeps its cluster identity (nodes.conf) but
 * comes back empty. `stop()` leaves nothing behind.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { findBinary, startDaemon, type DaemonHandle } from "./daemon.js";
import { REDIS_TEST_ARGS } from "./redis.js";
import { onExit } from "./util.js";

export interface RedisClusterServer {
  /** `redis+cluster://127.0.0.1:<p1>,127.0.0.1:<p2>,127.0.0.1:<p3>` */
  readonly url: string;
  readonly ports: readonly number[];
  /** Stops node `i` (SIGKILL, as a crash), keeping its directory so it can come back. */
  killNode(i: number): Promise<void>;
  /** Starts node `i` again on its port with its nodes.conf, and waits until the cluster is ok. */
  restartNode(i: number): Promise<void>;
  /** The port of the node serving `key`'s slot (asks the cluster). */
  nodeOf(key: string): number;
  stop(): Promise<void>;
}

function cli(args: readonly string[]): string {
  const binary = findBinary("redis-cli", "redis-tools");
  const result = spawnSync(binary, args, { encoding: "utf8", timeout: 60_000 });
  if (result.error) throw new Error(`could not run redis-cli: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`redis-cli ${args.join(" ")} failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** Waits until every node reports cluster_state:ok (30 s at most). */
async function waitClusterOk(ports: readonly number[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  let last = "";
  while (Date.now() < deadline) {
    last = ports.map((port) => /cluster_state:(\w+)/.exec(cli(["-h", "127.0.0.1", "-p", String(port), "CLUSTER", "INFO"]))?.[1] ?? "?").join(",");
    if (last.split(",").every((state) => state === "ok")) return;
    await sleep(200);
  }
  throw new Error(`the Redis Cluster did not become ok within 30 s (states: ${last})`);
}

/** Starts three primaries and creates the cluster over them (no replicas). */
export async function startRedisCluster(): Promise<RedisClusterServer> {
  findBinary("redis-cli", "redis-tools");
  const root = mkdtempSync(join(tmpdir(), "tessera-redis-cluster-"));
  const disposeOnExit = onExit(() => rmSync(root, { recursive: true, force: true }));
  const nodes: (DaemonHandle | undefined)[] = [];
  const start = (i: number, port?: number) => {
    return startDaemon({
      name: `Redis Cluster node ${i}`,
      binary: "redis-server",
      debianPackage: "redis-server",
      port,
      args: (p) => [
        "--port",
        String(p),
        ...REDIS_TEST_ARGS,
        "--dir",
        root,
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        `nodes-${i}.conf`,
        "--cluster-node-timeout",
        "2000",
        // With no replicas a dead primary cannot be replaced; "no" keeps the other slots serving.
        "--cluster-require-full-coverage",
        "no",
      ],
      probe: { send: "INFO server\r\n", expect: (pid) => `process_id:${pid}\r\n` },
    });
  };
  try {
    for (let i = 0; i < 3; i++) nodes.push(await start(i));
    const ports = nodes.map((n) => (n as DaemonHandle).port);
    cli(["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "0", "--cluster-yes"]);
    await waitClusterOk(ports);
    return {
      url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(",")}`,
      ports,
      async killNode(i) {
        await nodes[i]?.kill();
        nodes[i] = undefined;
      },
      async restartNode(i) {
        nodes[i] = await start(i, ports[i]);
        await waitClusterOk(ports);
      },
      nodeOf(key) {
        const slot = Number(cli(["-h", "127.0.0.1", "-p", String(ports[0]), "CLUSTER", "KEYSLOT", key]).trim());
        // CLUSTER NODES: "<id> <ip:port@cport> <flags> <master> <ping> <pong> <epoch> <state> <slot ranges…>"
        for (const line of cli(["-h", "127.0.0.1", "-p", String(ports[0]), "CLUSTER", "NODES"]).split("\n")) {
          const fields = line.trim().split(" ");
          const port = Number(/:(\d+)@/.exec(fields[1] ?? "")?.[1]);
          for (const range of fields.slice(8)) {
            const [from, to = from] = range.split("-").map(Number);
            if (from !== undefined && slot >= from && slot <= (to as number)) return port;
          }
        }
        throw new Error(`no node serves slot ${slot} of ${key}`);
      },
      async stop() {
        await Promise.all(nodes.map((n) => n?.stop()));
        rmSync(root, { recursive: true, force: true });
        disposeOnExit();
      },
    };
  } catch (error) {
    await Promise.all(nodes.map((n) => n?.kill()));
    rmSync(root, { recursive: true, force: true });
    disposeOnExit();
    throw error;
  }
}
