// Shared pieces of the benchmark servers: argument parsing, the store-operation counter,
// secrets, and the process plumbing (ready line, ops on SIGTERM).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const variant = process.argv[2];
export const port = Number(process.argv[3] ?? 0);
if (!variant || !Number.isInteger(port) || port <= 0) {
  console.error(`usage: node ${process.argv[1]} <variant> <port>`);
  process.exit(2);
}

// Fixed, bench-only secrets (>= 32 bytes, as every library asks).
export const SECRET = "bench-secret-0123456789abcdef-0123456789abcdef";
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6399";
export const PG_URL = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5499/bench";
export const MAX_AGE_S = 14 * 24 * 3600; // two weeks everywhere (Tessera's and Django's default)

// A fresh directory per server for SQLite files.
export const dataDir = mkdtempSync(join(tmpdir(), `tessera-bench-${variant}-`));

/** Store operations by name, counted by the wrappers below; reset through /__ops?reset=1. */
export const ops = Object.create(null);
export function countOp(name) {
  ops[name] = (ops[name] ?? 0) + 1;
}
export function opsSnapshot(reset) {
  const snapshot = { ...ops };
  if (reset) for (const k of Object.keys(ops)) delete ops[k];
  return snapshot;
}

/** Counts calls to the named methods of an express-session-style (callback) store, in place. */
export function countStore(store, methods = ["get", "set", "touch", "destroy"]) {
  for (const m of methods) {
    if (typeof store[m] !== "function") continue;
    const original = store[m];
    store[m] = function (...args) {
      countOp(m);
      return original.apply(this, args);
    };
  }
  return store;
}

/** Counts calls to a Tessera ServerBackend's data methods (a Proxy keeps its other properties). */
const BACKEND_METHODS = new Set(["load", "create", "update", "delete", "exists"]);
export function countBackend(backend) {
  const wrapped = new Map();
  return new Proxy(backend, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function" || !BACKEND_METHODS.has(prop)) return value;
      let fn = wrapped.get(prop);
      if (!fn) {
        fn = function (...args) {
          countOp(prop);
          return value.apply(target, args);
        };
        wrapped.set(prop, fn);
      }
      return fn;
    },
  });
}

/**
 * The calibrated floor `noop:spin<n>`: the `noop` server with n µs of pure CPU per request in its
 * middleware, so one run shows what n µs of a layer's own work adds to the server's CPU per
 * request on this machine (bench/FINDINGS.md: it adds more than n).
 */
const SPIN_US = Number(/^noop:spin(\d+)$/.exec(variant)?.[1] ?? 0);
export function spin() {
  if (SPIN_US === 0) return;
  const until = performance.now() + SPIN_US / 1000;
  while (performance.now() < until);
}

/** A value that changes on every /write, so every write really modifies the session. */
let writeCounter = 0;
export function nextValue() {
  writeCounter += 1;
  return writeCounter;
}

/** Prints the ready line the runner waits for, and the ops on SIGTERM/SIGINT. */
export function ready(close) {
  console.log(`READY ${variant} ${port}`);
  const stop = async () => {
    console.log(`OPS ${variant} ${JSON.stringify(opsSnapshot(false))}`);
    try {
      await close?.();
    } finally {
      process.exit(0);
    }
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  if (process.env.BENCH_PROFILE) profileOnSignal(process.env.BENCH_PROFILE);
}

/**
 * For bench/profile.mjs: the first SIGUSR2 starts V8's CPU profiler, the second stops it and
 * writes the profile to `file` (then prints PROFILED), so the profile covers exactly the measured
 * load and not the start-up or the warm-up.
 */
function profileOnSignal(file) {
  let session = null;
  process.on("SIGUSR2", async () => {
    const { Session } = await import("node:inspector/promises");
    const { writeFileSync } = await import("node:fs");
    if (session === null) {
      session = new Session();
      session.connect();
      await session.post("Profiler.enable");
      await session.post("Profiler.setSamplingInterval", { interval: 100 }); // µs: finer than the default 1 ms
      await session.post("Profiler.start");
      console.log("PROFILING");
    } else {
      const { profile } = await session.post("Profiler.stop");
      session.disconnect();
      session = null;
      writeFileSync(file, JSON.stringify(profile));
      console.log("PROFILED");
    }
  });
}
