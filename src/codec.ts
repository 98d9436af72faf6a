/**
 * Session data is JSON. This module checks values on `set()` (so a bad value fails at once, not at
 * the end of the request) and decodes stored data defensively.
 * @module
 */
import { InvalidValueError } from "./errors.js";

/** A JSON value as the session stores it. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * Throws `InvalidValueError` unless `value` survives a JSON round trip unchanged: no functions,
 * symbols, BigInts, `undefined`, non-finite numbers, class instances (Date, Map...) or cycles.
 */
export function assertJsonValue(value: unknown, path: string, seen: Set<object> = new Set()): void {
  switch (typeof value) {
    case "string":
    case "boolean":
      return;
    case "number":
      if (Number.isFinite(value)) return;
      throw new InvalidValueError(`${path} is ${value}, which JSON cannot store. Store a finite number or null.`);
    case "object": {
      if (value === null) return;
      if (seen.has(value)) throw new InvalidValueError(`${path} contains a cycle, which JSON cannot store.`);
      const proto = Object.getPrototypeOf(value) as unknown;
      const isArray = Array.isArray(value);
      if (!isArray && proto !== Object.prototype && proto !== null) {
        const kind = (value as { constructor?: { name?: string } }).constructor?.name ?? "object";
        throw new InvalidValueError(
          `${path} is a ${kind}, which does not survive JSON. Store plain objects, arrays, strings, numbers, booleans or null (e.g. a Date as date.toISOString()).`,
        );
      }
      seen.add(value);
      if (isArray) {
        // A hole (`[, 1]`) would come back as null: refuse it rather than change the data.
        for (let i = 0; i < value.length; i++) {
          if (!(i in value))
            throw new InvalidValueError(`${path}[${i}] is a hole in a sparse array, which JSON stores as null. Fill it (e.g. with null) first.`);
          assertJsonValue(value[i], `${path}[${i}]`, seen);
        }
      } else for (const [k, v] of Object.entries(value)) assertJsonValue(v, `${path}.${k}`, seen);
      seen.delete(value);
      return;
    }
    default:
      throw new InvalidValueError(
        `${path} is ${typeof value === "undefined" ? "undefined" : `a ${typeof value === "bigint" ? "BigInt" : typeof value}`}, which JSON cannot store. Store a string, number, boolean, null, array or plain object${typeof value === "undefined" ? " (or delete the key)" : ""}.`,
      );
  }
}

/** Serializes session data, keeping keys such as `__proto__` as ordinary keys. */
export function encodeData(data: ReadonlyMap<string, unknown>): string {
  const object: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [key, value] of data) object[key] = value;
  return JSON.stringify(object);
}

/**
 * Parses stored session data. Returns `undefined` for anything that is not a JSON object, so the
 * caller can start an empty session and log a warning instead of crashing.
 */
export function decodeData(text: string): Map<string, unknown> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
  // JSON.parse makes "__proto__" an own property, so Object.entries sees it as plain data.
  return new Map(Object.entries(parsed));
}

/**
 * A UTC time as Python prints a naive `datetime`: `YYYY-MM-DD`, `separator`, `HH:MM:SS`, then
 * `.ffffff` unless it is 0 (from milliseconds, so the last three digits are 0). Django's
 * `isoformat()` of `_session_expiry` (with "T" and "+00:00") and its SQLite `expire_date` text
 * (with " ") are both this.
 */
export function pythonDatetime(ms: number, separator: " " | "T"): string {
  const whole = Math.floor(ms);
  const iso = new Date(whole).toISOString(); // 2026-11-22T07:12:43.081Z
  const millis = whole - Math.floor(whole / 1000) * 1000;
  const base = `${iso.slice(0, 10)}${separator}${iso.slice(11, 19)}`;
  return millis === 0 ? base : `${base}.${String(millis).padStart(3, "0")}000`;
}
