/**
 * The backend gateway: the one way the core, the admin and the CLI reach a store. Every call
 * runs under `backendTimeoutMs` and fails as a BackendError (503) naming the store, and "can
 * this backend do X, and if not why" is answered here, in one wording ({@link BackendGateway.lacks}).
 * @module
 */
import type { ServerBackend, SessionBackend, SessionListPage, SessionListQuery, StoredSession } from "./backends/base.js";
import { withDeadline } from "./deadline.js";
import { BackendError, ConfigurationError, SessionError } from "./errors.js";

/** What a server backend may or may not offer beyond load/create/update/delete/exists. */
export type Capability = "listByUser" | "deleteByUser" | "deleteById" | "listSessions" | "clearExpired" | "migrate";

/** One backend, guarded. Built once per `createSessions` (see {@link gatewayOf}). */
export interface BackendGateway {
  /** The backend as given to `createSessions`. */
  readonly backend: SessionBackend;
  /**
   * Runs one store call under `backendTimeoutMs`. A call that throws or rejects with anything but
   * a SessionError, or that does not answer in time, fails with a BackendError whose message is
   * "could not <action>: <why>".
   */
  call<T>(action: string, run: () => Promise<T>): Promise<T>;
  /** Whether the backend offers `capability`. */
  supports(capability: Capability): boolean;
  /**
   * The one wording of "this backend cannot do X": "The <name> backend <what it lacks>.", and,
   * for a capability an app asks for (listing, the user index), which backends to use instead.
   * The core's ConfigurationError, the CLI and the admin page all say exactly this.
   */
  lacks(capability: Capability): string;
  /** The ConfigurationError for using `capability` on a backend without it; its message is {@link lacks}. */
  unsupported(capability: Capability): ConfigurationError;
  /** The user index (`ServerBackend.listByUser`), guarded. Throws `unsupported` if absent. */
  listByUser(userId: string, now: number): Promise<(StoredSession & { readonly id: string })[]>;
  deleteByUser(userId: string, exceptId?: string): Promise<number>;
  deleteById(id: string): Promise<void>;
  /** The admin/CLI listing, guarded. Throws `unsupported` if absent. */
  listSessions(query: SessionListQuery): Promise<SessionListPage>;
  /** Deletes expired records; 0 for a backend that expires them on its own. */
  clearExpired(now: number): Promise<number>;
  /** Creates or upgrades the schema; nothing for a backend that needs none. */
  migrate(): Promise<void>;
}

/** What the gateway needs from the resolved options. */
export interface GatewayOptions {
  readonly backend: SessionBackend;
  /** Milliseconds; Infinity for no limit. */
  readonly backendTimeoutMs: number;
}

const GATEWAYS = new WeakMap<GatewayOptions, BackendGateway>();

/**
 * The gateway of a `createSessions` instance, found by its resolved options (which the Session,
 * the admin and the CLI all hold). Built on first use and then shared.
 */
export function gatewayOf(options: GatewayOptions): BackendGateway {
  let gateway = GATEWAYS.get(options);
  if (gateway === undefined) GATEWAYS.set(options, (gateway = createGateway(options.backend, options.backendTimeoutMs)));
  return gateway;
}

/** The phrase each guarded call completes "could not …" with. */
const ACTIONS: Readonly<Record<Capability, string>> = {
  listByUser: "list the user's sessions",
  deleteByUser: "end the user's sessions",
  deleteById: "delete the session",
  listSessions: "list sessions",
  clearExpired: "delete expired sessions",
  migrate: "migrate the session store",
};

/**
 * Store calls under `limit` ms for the store called `name`: a call that throws or rejects with
 * anything but a SessionError, or that does not answer in time, fails with a BackendError (503)
 * saying "could not <action>: <why>". The gateway's `call`, and the old store's in a migration.
 */
export function guardedCall(name: string, limit: number): <T>(action: string, run: () => Promise<T>) => Promise<T> {
  return <T>(action: string, run: () => Promise<T>): Promise<T> => {
    let pending: Promise<T>;
    try {
      pending = Promise.resolve(run()); // the same promise when the backend returns a native one
    } catch (error) {
      pending = Promise.reject(error);
    }
    const late = () => `could not ${action}: no answer within ${limit} ms (backendTimeoutMs). The store may be down or overloaded.`;
    const bounded = Number.isFinite(limit) ? withDeadline(pending, limit, name, late) : pending;
    return bounded.catch((error: unknown) => {
      if (error instanceof SessionError) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new BackendError(name, `could not ${action}: ${reason}`, error);
    });
  };
}

function createGateway(backend: SessionBackend, limit: number): BackendGateway {
  const { name } = backend;
  const server = backend.kind === "server" ? backend : undefined;
  const supports = (capability: Capability) => typeof server?.[capability] === "function";
  const lacks = (capability: Capability) => {
    const reason =
      capability === "clearExpired"
        ? "expires sessions on its own"
        : capability === "migrate"
          ? "needs no schema"
          : server === undefined
            ? "keeps sessions in the visitors' cookies, so the server has none"
            : capability === "listSessions"
              ? "cannot list its sessions (memcached, for one, has no way to enumerate its keys)"
              : "keeps no user index";
    const instead =
      capability === "clearExpired" || capability === "migrate"
        ? ""
        : capability === "listSessions"
          ? " Use the database, file, Redis or memory backend to list sessions."
          : " Use the database, cache (Redis), file or memory backend for setUser, listForUser, endAllForUser and endSession.";
    return `The ${name} backend ${reason}.${instead}`;
  };
  const unsupported = (capability: Capability) => new ConfigurationError(lacks(capability));
  const call = guardedCall(name, limit);
  // Maintenance runs as long as the data needs (a million expired rows take tens of seconds):
  // its failures are BackendErrors, but backendTimeoutMs, a request's bound, does not cut it off.
  const maintenance = guardedCall(name, Number.POSITIVE_INFINITY);
  /** The backend's `capability` method, or the `unsupported` error. */
  const method = <C extends Capability>(capability: C): NonNullable<ServerBackend[C]> => {
    const found = server?.[capability];
    if (typeof found !== "function") throw unsupported(capability);
    return found.bind(server) as NonNullable<ServerBackend[C]>;
  };
  return {
    backend,
    call,
    supports,
    lacks,
    unsupported,
    listByUser: async (userId, now) => {
      const run = method("listByUser");
      return call(ACTIONS.listByUser, () => run(userId, now));
    },
    deleteByUser: async (userId, exceptId) => {
      const run = method("deleteByUser");
      return call(ACTIONS.deleteByUser, () => run(userId, exceptId));
    },
    deleteById: async (id) => {
      const run = method("deleteById");
      return call(ACTIONS.deleteById, () => run(id));
    },
    listSessions: async (query) => {
      const run = method("listSessions");
      return call(ACTIONS.listSessions, () => run(query));
    },
    clearExpired: async (now) => (supports("clearExpired") ? maintenance(ACTIONS.clearExpired, () => method("clearExpired")(now)) : 0),
    migrate: async () => {
      if (supports("migrate")) await maintenance(ACTIONS.migrate, () => method("migrate")());
    },
  };
}
