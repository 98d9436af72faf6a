/**
 * Starts a throwaway server process for tests (redis-server, memcached): a free loopback port,
 * its output kept for error messages, ready once it answers a probe over TCP. A missing binary
 * or a failed start is an error that says how to fix it, never a skip.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, readdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { delimiter, join } from "node:path";
import { freePort, onExit, serverFailure, waitFor } from "./util.js";

/** A running test server. */
export interface DaemonHandle {
  readonly port: number;
  readonly pid: number;
  /** Stops it (SIGTERM, then SIGKILL after 5 s) and waits until it has exited. */
  stop(): Promise<void>;
  /** Kills it at once (SIGKILL), as a crash would. */
  kill(): Promise<void>;
  /** Freezes it (SIGSTOP): connections stay open but nothing answers, as a hung server. */
  pause(): void;
  /** Undoes `pause()`. */
  resume(): void;
}

export interface DaemonSpec {
  /** Shown in errors, e.g. "Redis". */
  readonly name: string;
  /** The executable, looked up on PATH and in the sbin directories. */
  readonly binary: string;
  /** The Debian package that provides it. */
  readonly debianPackage: string;
  readonly args: (port: number) => string[];
  /**
   * Written once connected; the server is ready when its answer contains `expect(pid)`. The pid
   * proves the answer came from this process, not from another server that took the port.
   */
  readonly probe: { readonly send: string; readonly expect: (pid: number) => string };
  /** A fixed port (to restart a server where it was); otherwise a free one. */
  readonly port?: number | undefined;
  /** Runs after the process is gone (removes its files). */
  readonly cleanup?: () => void;
}

/** The absolute path of `binary`, or an error naming the package to install. */
export function findBinary(binary: string, debianPackage: string): string {
  const dirs = [...(process.env["PATH"] ?? "").split(delimiter), "/usr/local/sbin", "/usr/sbin", "/sbin"];
  for (const dir of dirs) {
    const path = join(dir, binary);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  throw new Error(`${binary} was not found on PATH. Install it with: apt-get install ${debianPackage}`);
}

/** Starts the server and waits until it answers; retries on another port if the first was taken. */
export async function startDaemon(spec: DaemonSpec): Promise<DaemonHandle> {
  const binary = findBinary(spec.binary, spec.debianPackage);
  for (let attempt = 1; ; attempt++) {
    const port = spec.port ?? (await freePort());
    try {
      return await launch(spec, binary, port);
    } catch (error) {
      // Another process may have taken the free port between our check and the server's bind.
      if (spec.port !== undefined || attempt >= 3 || !(error instanceof Error && error.message.includes("exited during start-up"))) throw error;
    }
  }
}

async function launch(spec: DaemonSpec, binary: string, port: number): Promise<DaemonHandle> {
  const log: string[] = [];
  const child: ChildProcess = spawn(binary, spec.args(port), { stdio: ["ignore", "pipe", "pipe"] });
  const disposeOnExit = onExit(() => {
    child.kill("SIGKILL");
    spec.cleanup?.();
  });
  child.stdout?.on("data", (chunk: Buffer) => log.push(chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => log.push(chunk.toString()));
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const exited = new Promise<never>((_, reject) => {
    child.once("error", (error) => reject(new Error(`could not start ${binary}: ${error.message}`)));
    child.once("exit", (code) => reject(serverFailure(spec.name, code, log)));
  });
  exited.catch(() => {}); // only start-up cares; a later stop() must not be an unhandled rejection
  const finish = async (signal: NodeJS.Signals, removeFiles = true) => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGCONT"); // a paused server cannot act on SIGTERM
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await gone;
      clearTimeout(timer);
    }
    if (removeFiles) spec.cleanup?.();
    disposeOnExit();
  };
  try {
    await waitFor(spec.name, exited, log, () => ask(port, spec.probe.send, spec.probe.expect(child.pid ?? -1)));
  } catch (error) {
    await finish("SIGKILL", false); // startDaemon may try another port with the same files
    throw error;
  }
  return {
    port,
    pid: child.pid ?? 0,
    stop: () => finish("SIGTERM"),
    kill: () => finish("SIGKILL"),
    pause: () => {
      child.kill("SIGSTOP");
      waitUntilStopped(child.pid ?? 0);
    },
    resume: () => void child.kill("SIGCONT"),
  };
}

/**
 * Waits until every thread of `pid` is stopped. SIGSTOP only queues a group stop: a worker
 * thread of a multi-threaded server (memcached) can still answer one request before it stops,
 * which made the "hung server" tests pass a load they meant to hang.
 */
function waitUntilStopped(pid: number): void {
  const deadline = Date.now() + 2000;
  const stopped = () =>
    readdirSync(`/proc/${pid}/task`).every((task) => {
      const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, "utf8");
      return /^[Tt]$/.test(stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3));
    });
  while (!stopped()) {
    if (Date.now() > deadline) throw new Error(`process ${pid} did not stop within 2 s of SIGSTOP`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
  }
}

/** Connects, sends `send`, and resolves once the answer contains `expect` (1 s at most). */
function ask(port: number, send: string, expect: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    let answer = "";
    const done = (error?: Error) => {
      socket.destroy();
      if (error) reject(error);
      else resolve();
    };
    socket.setTimeout(1000, () => done(new Error(`no answer on port ${port}`)));
    socket.once("error", done);
    socket.once("connect", () => socket.write(send));
    socket.on("data", (chunk: Buffer) => {
      answer += chunk.toString();
      if (answer.includes(expect)) done();
    });
  });
}
