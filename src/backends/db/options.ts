/**
 * The checks of `databaseBackend`'s options, both table formats: each mistake fails at startup
 * with a message that says how to fix it. Small on purpose: it loads before any driver or format.
 * @module
 */
import { ConfigurationError } from "../../errors.js";
import type { PoolSettings } from "./postgres.js";

/** `value` if it is a whole number of at least `min`, `fallback` if absent; otherwise a ConfigurationError from `who`. */
export function wholeNumber(who: string, name: string, value: unknown, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new ConfigurationError(`${who} ${name} must be ${min === 1 ? "a positive whole number" : `a whole number of at least ${min}`}.`);
  }
  return value;
}

/** The pool settings of a PostgreSQL or MySQL pool opened from a URL. */
export function poolSettings(options: { poolSize?: number; connectTimeoutMs?: number; statementTimeoutMs?: number }): PoolSettings {
  return {
    poolSize: wholeNumber("databaseBackend", "poolSize", options.poolSize, 10),
    connectTimeoutMs: wholeNumber("databaseBackend", "connectTimeoutMs", options.connectTimeoutMs, 10_000),
    statementTimeoutMs: wholeNumber("databaseBackend", "statementTimeoutMs", options.statementTimeoutMs, 15_000),
  };
}

/** Django's `SECRET_KEY` (then its fallbacks, newest first), which signs `session_data` in Django's table. */
export function djangoSecrets(secret: unknown): readonly string[] {
  const list = typeof secret === "string" ? [secret] : secret;
  if (!Array.isArray(list) || list.length === 0 || !list.every((s) => typeof s === "string" && s !== "")) {
    throw new ConfigurationError(
      "The Django-format database backend signs session data with Django's SECRET_KEY: pass secret: process.env.DJANGO_SECRET_KEY (or [SECRET_KEY, ...SECRET_KEY_FALLBACKS], newest first).",
    );
  }
  return Object.freeze([...(list as string[])]);
}

/** The checked options of the Django table format. */
export interface DjangoFormatSettings {
  readonly secrets: readonly string[];
  readonly batchSize: number | undefined;
  readonly floatMemory: number;
}

/** Checks the Django table format's own options. */
export function djangoFormatSettings(options: { secret?: unknown; batchSize?: number; floatMemory?: number }): DjangoFormatSettings {
  const who = "The Django-format database backend's";
  return {
    secrets: djangoSecrets(options.secret),
    batchSize: options.batchSize === undefined ? undefined : wholeNumber(who, "batchSize", options.batchSize, 1000),
    floatMemory: wholeNumber(who, "floatMemory", options.floatMemory, 10_000, 0),
  };
}
