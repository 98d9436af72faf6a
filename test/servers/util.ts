/** Helpers shared by the throwaway test servers. */
import { spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** A loopback port nobody listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/**
 * Whether a start-up log says the port was taken meanwhile (another test server grabbed it
 * between `freePort` and the bind); the caller then retries with another port.
 */
export function isPortClash(log: readonly string[]): boolean {
  return /address already in use|could not bind|could not create any TCP\/IP sockets|Bind on TCP\/IP port/i.test(log.join(""));
}

/** Runs `command` to completion, throwing its output if it fails. */
export function runOrFail(command: string, args: readonly string[], user?: { uid: number; gid: number }): void {
  const result = spawnSync(command, args, { ...user, encoding: "utf8", timeout: 120_000 });
  if (result.error) throw new Error(`could not run ${command}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
}

/** The error for a server that exited during start-up, with the end of its log. */
export function serverFailure(name: string, code: number | null, log: readonly string[]): Error {
  return new Error(`${name} exited during start-up (exit code ${code}). Its log:\n${log.join("").slice(-4000)}`);
}

/** Retries `probe` until it succeeds, the server exits, or 30 s pass. */
export async function waitFor(name: string, exited: Promise<never>, log: readonly string[], probe: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + 30_000;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      await Promise.race([probe(), exited]);
      return;
    } catch (error) {
      if (error instanceof Error && error.message.includes("exited during start-up")) throw error;
      last = error;
    }
    await Promise.race([sleep(100), exited]);
  }
  throw new Error(`${name} did not accept connections within 30 s (last error: ${String(last)}). Its log:\n${log.join("").slice(-4000)}`);
}

/** Runs `cleanup` if the test process exits before the server is stopped; returns the undo. */
export function onExit(cleanup: () => void): () => void {
  const handler = () => {
    try {
      cleanup();
    } catch {
      // best effort at exit
    }
  };
  process.once("exit", handler);
  return () => process.off("exit", handler);
}
