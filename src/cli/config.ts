/**
 * Finds the session store the CLI works on: a `--config` module, else `TESSERA_DATABASE_URL`.
 * @module
 */
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { databaseBackend } from "../backends/db/index.js";
import { createSessions, type Sessions, type SessionsOptions } from "../index.js";

/** The environment variable naming the database when there is no `--config`. */
export const DATABASE_URL_VARIABLE = "TESSERA_DATABASE_URL";

/** Nothing says where the sessions are (exit code 2: the command cannot run as invoked). */
export class MissingConfigError extends Error {
  override readonly name = "MissingConfigError";
  constructor() {
    super(
      `no session store configured: pass --config <file> (a module exporting your createSessions(...) result or its options), ` +
        `or set ${DATABASE_URL_VARIABLE} (e.g. ${DATABASE_URL_VARIABLE}=sqlite:sessions.sqlite3).`,
    );
  }
}

/** The config file could not be used; the message says why. */
export class ConfigFileError extends Error {
  override readonly name = "ConfigFileError";
}

/** Opens the sessions the command should use. Nothing connects until a command runs. */
export async function loadSessions(configPath: string | undefined, env: NodeJS.ProcessEnv, cwd: string): Promise<Sessions> {
  if (configPath !== undefined) return fromConfigFile(resolve(cwd, configPath));
  const url = env[DATABASE_URL_VARIABLE];
  if (url !== undefined && url !== "") return createSessions({ backend: databaseBackend({ url }) });
  throw new MissingConfigError();
}

async function fromConfigFile(file: string): Promise<Sessions> {
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) throw new ConfigFileError(`config file ${file} does not exist.`);

  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigFileError(`could not load config file ${file}: ${reason}`, { cause: error });
  }

  const exported = module["default"] ?? module["sessions"];
  if (isSessions(exported)) return exported;
  if (isPlainObject(exported)) return createSessions(exported as SessionsOptions);
  throw new ConfigFileError(
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
