/**
 * The one codec of a {@link StoredSession} kept as JSON by the stores that hold records whole
 * (file, memory, cache): building a record from a write, its JSON text, and checking what is
 * read back, so a malformed value is a missing session, never a crash.
 * @module
 */
import type { SessionWrite, StoredSession } from "./base.js";

/** The record a write stores at `version`, created at `createdAt` (fixed field order keeps stored files diffable). */
export function toRecord(write: SessionWrite, version: number, createdAt: number): StoredSession {
  return { data: write.data, expiresAt: write.expiresAt, version, userId: write.userId, createdAt, updatedAt: write.now };
}

/** Every field but createdAt, as the inside of a JSON object; the Redis scripts prepend createdAt. */
export function recordTail(write: SessionWrite, version: number): string {
  return JSON.stringify({ expiresAt: write.expiresAt, version, userId: write.userId, updatedAt: write.now, data: write.data }).slice(1, -1);
}

/** The stored JSON of a record: createdAt first, so the Redis scripts can keep it while replacing the rest. */
export function encodeRecord(write: SessionWrite, version: number, createdAt: number): string {
  return `{"createdAt":${createdAt},${recordTail(write, version)}}`;
}

/** Whether a parsed value is a well-formed record (a version of at least 1, finite times). */
export function isRecord(value: unknown): value is StoredSession {
  const r = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  const { data, expiresAt, version, userId, createdAt, updatedAt } = r;
  return (
    typeof data === "string" &&
    Number.isFinite(expiresAt) &&
    Number.isSafeInteger(version) &&
    (version as number) >= 1 &&
    (userId === null || typeof userId === "string") &&
    Number.isFinite(createdAt) &&
    Number.isFinite(updatedAt)
  );
}

/** A stored record's text back to the record, or null for anything that is not one. */
export function decodeRecord(text: string): StoredSession | null {
  try {
    const value: unknown = JSON.parse(text);
    return isRecord(value) ? value : null;
  } catch {
    return null;
  }
}
