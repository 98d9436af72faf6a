/**
 * A server backend whose code loads on first use, so an app pays at startup only for what it
 * configured: the default SQLite backend and Django's table format load their SQL, drivers and
 * signing code when the first session is read or written.
 * @module
 */
import type { ServerBackend } from "./base.js";

/** The methods of a {@link ServerBackend} (everything that does I/O). */
export type ServerMethod = Exclude<
  { [K in keyof ServerBackend]-?: ServerBackend[K] extends ((...args: never[]) => unknown) | undefined ? K : never }[keyof ServerBackend],
  "close"
>;

/** Every method of Tessera's own SQL table: what the default backend offers. */
export const SQL_TABLE_METHODS: readonly ServerMethod[] = [
  "load",
  "create",
  "update",
  "delete",
  "exists",
  "listByUser",
  "deleteByUser",
  "deleteById",
  "listSessions",
  "clearExpired",
  "migrate",
];

/**
 * A backend that is `known` at once (its name, its flags; the options were checked by whoever
 * calls this, so mistakes still fail at startup) and offers `methods`, each loading the real
 * backend with `load` on first use. `close()` closes the real backend only if it was loaded.
 */
export function lazyServerBackend<Known extends Omit<ServerBackend, "kind" | ServerMethod | "close">>(
  known: Known,
  methods: readonly ServerMethod[],
  load: () => Promise<ServerBackend>,
): ServerBackend & Known {
  let loaded: Promise<ServerBackend> | undefined;
  const real = () => (loaded ??= load());
  const backend: Record<string, unknown> = { kind: "server", ...known };
  for (const method of methods) {
    backend[method] = async (...args: unknown[]) => {
      const target = await real();
      return (target[method] as (...args: unknown[]) => Promise<unknown>).apply(target, args);
    };
  }
  backend["close"] = async () => {
    const target = await loaded?.catch(() => undefined); // never loaded: nothing to release
    await target?.close?.();
  };
  return backend as unknown as ServerBackend & Known;
}
