/**
 * Observability: `node:diagnostics_channel` tracing channels around every backend load, save and
 * delete and every commit (what OpenTelemetry and APM agents subscribe to), and per-`Sessions`
 * counters an app can export. A channel nobody subscribes to costs one property read.
 * @module
 */
import type { TracingChannel } from "node:diagnostics_channel";
import { SessionError } from "./errors.js";
import { hashKey } from "./keys.js";
import { nodeBuiltin } from "./runtime.js";

/** The context object published on `tessera:session.load`, `.save` and `.delete`. */
export interface BackendCallContext {
  /** The backend's name, e.g. "database (postgres)" or "cache (redis)". */
  readonly backend: string;
  /** The session's id: SHA-256 of its key, as the admin shows it (never the usable key); null without a key. */
  readonly id: string | null;
  /**
   * Set when the call resolved: for a load `{ found }` (whether a record came back), else
   * undefined. Never the data or the key.
   */
  result?: { readonly found: boolean } | undefined;
  /** Set by the channel when the call failed: a `BackendError`, `UpdateError`, `VersionConflictError`... */
  error?: unknown;
}

/** The context object published on `tessera:session.commit`. */
export interface CommitContext {
  readonly backend: string;
  /** The id of the session as the commit started (SHA-256 of the key), or null. */
  readonly id: string | null;
  /** The response status the commit was asked to apply the rules for. */
  readonly status: number;
  /**
   * Set when the commit finished: what it did to the cookie (`"set"`, `"deleted"` or `"none"`;
   * never the cookie itself, which carries the key) and whether the response varies by Cookie.
   */
  result?: { readonly cookie: "set" | "deleted" | "none"; readonly varyCookie: boolean };
  error?: unknown;
}

/**
 * The channel names, for `diagnostics_channel.tracingChannel(name)`. Every call is traced as a
 * promise: `start`, `end` (its synchronous part), then `error` if it failed, `asyncStart` and
 * `asyncEnd` when it settled; end a span on `asyncEnd`.
 */
export const channelNames = Object.freeze({
  load: "tessera:session.load",
  save: "tessera:session.save",
  delete: "tessera:session.delete",
  commit: "tessera:session.commit",
} as const);

/**
 * Reached without an `import`, so an edge bundle holds no `node:` import; a runtime without
 * node:diagnostics_channel (Workers without nodejs_compat) gets channels that never have subscribers.
 */
const diagnostics = nodeBuiltin<typeof import("node:diagnostics_channel")>("node:diagnostics_channel");
const NO_SUBSCRIBERS = { hasSubscribers: false } as TracingChannel<unknown, never>;
function channel<C extends object>(name: string): TracingChannel<unknown, C> {
  return diagnostics?.tracingChannel === undefined ? (NO_SUBSCRIBERS as TracingChannel<unknown, C>) : diagnostics.tracingChannel<unknown, C>(name);
}

const channels = {
  load: channel<BackendCallContext>(channelNames.load),
  save: channel<BackendCallContext>(channelNames.save),
  delete: channel<BackendCallContext>(channelNames.delete),
  commit: channel<CommitContext>(channelNames.commit),
};

/** What `sessions.metrics()` reports: counts since `createSessions`, for this `Sessions` object. */
export interface SessionMetrics {
  /** Records read from the backend (first loads, and the reloads a conflicting save does). */
  readonly loads: number;
  /** Records written (created or updated). */
  readonly saves: number;
  /** Records deleted (flush, cycleKey's old key, timed-out sessions). */
  readonly deletes: number;
  /** Saves that met a concurrent change, reloaded and merged key by key instead of losing it. */
  readonly conflictsMerged: number;
  /** Backend calls that failed or timed out (each surfaced as a `BackendError`, 503). */
  readonly storeErrors: number;
}

type Counters = { -readonly [K in keyof SessionMetrics]: number };
/** Keyed by the resolved options object, which each `createSessions` call makes once. */
const COUNTERS = new WeakMap<object, Counters>();

function countersOf(owner: object): Counters {
  let counters = COUNTERS.get(owner);
  if (counters === undefined) COUNTERS.set(owner, (counters = { loads: 0, saves: 0, deletes: 0, conflictsMerged: 0, storeErrors: 0 }));
  return counters;
}

/** @internal A snapshot of the counters of `owner` (the resolved options). */
export function readMetrics(owner: object): SessionMetrics {
  return Object.freeze({ ...countersOf(owner) });
}

/** @internal Counts one conflicting save that is about to be merged and retried. */
export function countConflictMerged(owner: object): void {
  countersOf(owner).conflictsMerged++;
}

const COUNTED = { load: "loads", save: "saves", delete: "deletes" } as const;

/**
 * @internal Runs one backend call (`run` already turns failures into `BackendError`), counting it
 * and, when someone subscribes, tracing it on the action's channel. Other actions are run as is.
 */
export function observeBackendCall<T>(owner: object, backend: string, action: string, key: string | null, run: () => Promise<T>): Promise<T> {
  if (action !== "load" && action !== "save" && action !== "delete") return run();
  const traceOn = channels[action];
  const pending = traceOn.hasSubscribers
    ? traced(traceOn, { backend, id: idOf(key) }, run, (value) => (action === "load" ? { found: value !== null } : undefined))
    : run();
  const counters = countersOf(owner);
  return pending.then(
    (value) => {
      counters[COUNTED[action]]++;
      return value;
    },
    (error: unknown) => {
      // A CreateError, UpdateError or VersionConflictError is the store answering, not failing.
      if (!(error instanceof SessionError) || error.code === "BACKEND_FAILURE") counters.storeErrors++;
      throw error;
    },
  );
}

/** What a commit result tells a subscriber: no cookie value, since it carries the session key. */
function commitSummary(result: { readonly setCookie: string | undefined; readonly varyCookie: boolean }): NonNullable<CommitContext["result"]> {
  const cookie = result.setCookie === undefined ? "none" : /^[^=]*=;/.test(result.setCookie) ? "deleted" : "set";
  return { cookie, varyCookie: result.varyCookie };
}

/** @internal Traces a commit that needs I/O (`commit`). */
export function observeCommit<T extends { readonly setCookie: string | undefined; readonly varyCookie: boolean }>(
  backend: string,
  key: string | null,
  status: number,
  run: () => Promise<T>,
): Promise<T> {
  const commitChannel = channels.commit;
  return commitChannel.hasSubscribers ? traced(commitChannel, { backend, id: idOf(key), status }, run, commitSummary) : run();
}

/** @internal Traces a commit answered without I/O (`tryCommitSync` with a result). */
export function observeCommitSync<T extends { readonly setCookie: string | undefined; readonly varyCookie: boolean }>(
  backend: string,
  key: string | null,
  status: number,
  result: T,
): T {
  const commitChannel = channels.commit;
  // Traced as a promise too, so a subscriber ends every span on asyncEnd, whichever path ran.
  if (commitChannel.hasSubscribers) void commitChannel.tracePromise(() => Promise.resolve(commitSummary(result)), { backend, id: idOf(key), status });
  return result;
}

function idOf(key: string | null): string | null {
  return key === null ? null : hashKey(key);
}

/**
 * `tracePromise` with `summarize(value)` as the published result in place of the value itself,
 * which the caller still gets.
 */
async function traced<T, C extends { result?: unknown }>(
  channel: TracingChannel<unknown, C>,
  context: C,
  run: () => Promise<T>,
  summarize: (value: T) => C["result"],
): Promise<T> {
  let value: T | undefined;
  await channel.tracePromise(async () => summarize((value = await run())), context);
  return value as T;
}
