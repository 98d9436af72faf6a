/**
 * Finds the session store the CLI works on: a `--config` module, else `TESSERA_DATABASE_URL`.
 * @module
 */
import { stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { databaseBackend } from "../backends/db/index.js";
import { createSessions, type Sessions, type SessionsOptions } from "../index.js";
import { UsageError } from "./args.js";

/** The environment variable naming the database when there is no `--config`. */
export const DATABASE_URL_VARIABLE = "TESSERA_DATABASE_URL";

/** The configuration (the config file, or the database file it names) cannot be used: exit code 2, the message says why. */
function unusable(message: string, cause?: unknown): UsageError {
  return new UsageError(message, { pointsToHelp: false, cause });
}

/**
 * Opens the sessions the command should use. Nothing connects until a command runs.
 * `mayCreate` is false for commands that only read or delete: then a SQLite file must exist,
 * because opening a mistyped path would create an empty database and the command would
 * "succeed" on it forever.
 */
export async function loadSessions(configPath: string | undefined, env: NodeJS.ProcessEnv, cwd: string, options: { mayCreate: boolean }): Promise<Sessions> {
  const from = configPath === undefined ? DATABASE_URL_VARIABLE : `--config ${configPath}`;
  const sessions = configPath === undefined ? fromEnvironment(env) : await fromConfigFile(resolve(cwd, configPath));
  const file = sessions.options.backend.kind === "server" ? sessions.options.backend.sqliteFile : undefined;
  if (!options.mayCreate && file !== undefined) await requireSqliteFile(file, from);
  return sessions;
}

function fromEnvironment(env: NodeJS.ProcessEnv): Sessions {
  const url = env[DATABASE_URL_VARIABLE];
  if (url === undefined || url === "") {
    throw unusable(
      `no session store configured: pass --config <file> (a module exporting your createSessions(...) result or its options), ` +
        `or set ${DATABASE_URL_VARIABLE} (e.g. ${DATABASE_URL_VARIABLE}=sqlite:sessions.sqlite3).`,
    );
  }
  return createSessions({ backend: databaseBackend({ url }) });
}

async function requireSqliteFile(file: string, from: string): Promise<void> {
  const info = await stat(file).catch(() => undefined);
  if (info === undefined) throw unusable(`the SQLite database ${file} (from ${from}) does not exist: check the path, or create it with "tessera migrate".`);
  if (!info.isFile()) throw unusable(`the SQLite database ${file} (from ${from}) is not a file.`);
}

async function fromConfigFile(file: string): Promise<Sessions> {
  const info = await stat(file).catch(() => undefined);
  if (info === undefined) throw unusable(`config file ${file} does not exist.`);
  if (info.isDirectory()) throw unusable(`config file ${file} is a directory; pass the module inside it, e.g. --config ${join(file, "tessera.config.js")}.`);
  if (!info.isFile()) throw unusable(`config file ${file} is not a regular file.`);

  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw unusable(`could not load config file ${file}: ${reason}`, error);
  }

  const exported = module["default"] ?? module["sessions"];
  if (isSessions(exported)) return exported;
  if (isPlainObject(exported)) return createSessions(exported as SessionsOptions);
  throw unusable(
    `config file ${file} must export (as default, or as \`sessions\`) the object createSessions() returns, or its options, ` +
      `e.g. export default { backend: databaseBackend({ url: "sqlite:sessions.sqlite3" }) }.`,
  );
}

/** Recognises what `createSessions` returns by the methods the CLI needs. */
function isSessions(value: unknown): value is Sessions {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as Partial<Record<keyof Sessions, unknown>>;
  return typeof candidate.migrate === "function" && typeof candidate.clearExpired === "function" && typeof candidate.close === "function";
}

function isPlainObject(value: unknown): value is object {
  if (typeof value !== "object" || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  // A module namespace (from `export * as`) has a null prototype; so may a hand-built object.
  return proto === Object.prototype || proto === null;
}
