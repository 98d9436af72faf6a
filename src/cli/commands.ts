/**
 * What each `tessera` command does, through the public API only (`sessions.migrate`,
 * `sessions.clearExpired`, `schemaSql`), so a custom backend works exactly as the built-in ones.
 * @module
 */
import { schemaSql, type Dialect } from "../backends/db/index.js";
import { gatewayOf } from "../gateway.js";
import type { Sessions } from "../index.js";
import { UsageError } from "./args.js";

/** Where a command writes its result. */
export type Print = (text: string) => void;

/** `tessera migrate`. */
export async function migrate(sessions: Sessions, print: Print): Promise<void> {
  const store = gatewayOf(sessions.options);
  if (!store.supports("migrate")) {
    print(`${store.lacks("migrate")} Nothing to migrate.`);
    return;
  }
  await sessions.migrate();
  print(`The ${store.backend.name} session store is up to date.`);
}

/** `tessera clearsessions`: Django's command, with the count it leaves unsaid. */
export async function clearSessions(sessions: Sessions, print: Print): Promise<void> {
  const store = gatewayOf(sessions.options);
  // Django's cache and signed-cookie engines make this a silent no-op; saying so is kinder to whoever reads the cron log.
  if (!store.supports("clearExpired")) {
    print(`${store.lacks("clearExpired")} Nothing to delete.`);
    return;
  }
  const deleted = await sessions.clearExpired();
  print(`Deleted ${deleted} expired ${deleted === 1 ? "session" : "sessions"}.`);
}

const DIALECTS: Readonly<Record<string, Dialect>> = {
  sqlite: "sqlite",
  postgres: "postgres",
  postgresql: "postgres",
  mysql: "mysql",
  mariadb: "mysql",
};

/** `tessera sql <dialect>`. */
export function sql(dialect: string, print: Print): void {
  const resolved = Object.hasOwn(DIALECTS, dialect.toLowerCase()) ? DIALECTS[dialect.toLowerCase()] : undefined;
  if (resolved === undefined) throw new UsageError(`unknown SQL dialect ${JSON.stringify(dialect)} (choose sqlite, postgres or mysql).`);
  print(schemaSql(resolved));
}
