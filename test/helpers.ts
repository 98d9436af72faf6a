/** Shared test helpers: a backend wrapper that counts and logs calls (and can fail), a quiet logger that remembers. */
import type { ServerBackend } from "tessera-sessions";

/** One call a {@link countingBackend} saw: the method, and its first argument (the key, but for clearExpired). */
export interface BackendCall {
  readonly method: string;
  readonly key: unknown;
}

/** A server backend that counts and logs its calls, and can be made to fail like a store that is down. */
export interface CountingBackend extends ServerBackend {
  /** The wrapped backend, for a test's own look-ups (neither counted nor failed). */
  readonly inner: ServerBackend;
  /** How many times each method was called. */
  readonly calls: Record<string, number>;
  /** Every call, in order. */
  readonly log: BackendCall[];
  /** The methods of `log`, in order. */
  methods(): string[];
  /** How many calls in all. */
  total(): number;
  /** Forgets the calls so far: counts and log start again from nothing. */
  reset(): void;
  /** While true, every counted call rejects, as when the store is down (it is still counted and logged). */
  failing: boolean;
}

/**
 * Wraps a server backend and counts each method's calls, so laziness is measured, not assumed.
 * `load`, `create`, `update`, `delete`, `exists` and `clearExpired` are counted; `close` is passed
 * through; the optional user-index and listing methods are left out.
 */
export function countingBackend(inner: ServerBackend): CountingBackend {
  const calls: Record<string, number> = {};
  const log: BackendCall[] = [];
  const count =
    <A extends unknown[], R>(name: string, method: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      calls[name] = (calls[name] ?? 0) + 1;
      log.push({ method: name, key: args[0] });
      if (counting.failing) return Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:6379 (simulated outage)"));
      return method.apply(inner, args);
    };
  const counting: CountingBackend = {
    kind: "server",
    name: inner.name,
    load: count("load", inner.load),
    create: count("create", inner.create),
    update: count("update", inner.update),
    delete: count("delete", inner.delete),
    exists: count("exists", inner.exists),
    ...(inner.clearExpired ? { clearExpired: count("clearExpired", inner.clearExpired) } : {}),
    ...(inner.close ? { close: inner.close.bind(inner) } : {}),
    inner,
    calls,
    log,
    methods: () => log.map((c) => c.method),
    total: () => Object.values(calls).reduce((a, b) => a + b, 0),
    reset() {
      for (const name of Object.keys(calls)) delete calls[name];
      log.length = 0;
    },
    failing: false,
  };
  return counting;
}

/** A logger that keeps what it was told. */
export function recordingLogger() {
  const warnings: string[] = [];
  const errors: string[] = [];
  return { warnings, errors, warn: (m: string) => void warnings.push(m), error: (m: string) => void errors.push(m) };
}
