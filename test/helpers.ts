/** Shared test helpers: a backend wrapper that counts calls, a quiet logger that remembers. */
import type { ServerBackend } from "tessera";

/** Wraps a server backend and counts each method's calls, so laziness is measured, not assumed. */
export function countingBackend(inner: ServerBackend): ServerBackend & { calls: Record<string, number>; total(): number } {
  const calls: Record<string, number> = {};
  const count = <A extends unknown[], R>(name: string, method: (...args: A) => R) => (...args: A): R => {
    calls[name] = (calls[name] ?? 0) + 1;
    return method.apply(inner, args);
  };
  return {
    kind: "server",
    name: inner.name,
    load: count("load", inner.load),
    create: count("create", inner.create),
    update: count("update", inner.update),
    delete: count("delete", inner.delete),
    exists: count("exists", inner.exists),
    ...(inner.clearExpired ? { clearExpired: count("clearExpired", inner.clearExpired) } : {}),
    ...(inner.close ? { close: inner.close.bind(inner) } : {}),
    calls,
    total: () => Object.values(calls).reduce((a, b) => a + b, 0),
  };
}

/** A logger that keeps what it was told. */
export function recordingLogger() {
  const warnings: string[] = [];
  const errors: string[] = [];
  return { warnings, errors, warn: (m: string) => void warnings.push(m), error: (m: string) => void errors.push(m) };
}
