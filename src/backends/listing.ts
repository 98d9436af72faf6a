/**
 * Helpers for `ServerBackend.listSessions`: the opaque keyset cursor, and a listing of records
 * held in memory (the memory and file backends).
 * @module
 */
import { fromBase64url, fromUtf8, toBase64url, utf8 } from "../bytes.js";
import { SESSION_ID_SOURCE } from "../keys.js";
import type { SessionListPage, SessionListQuery, StoredSession } from "./base.js";

/** Where a page ended: the last session's creation time and id. */
export interface ListPosition {
  readonly createdAt: number;
  readonly id: string;
}

/** A decoded cursor: `<createdAt>~<id>`. */
const CURSOR = new RegExp(`^([^~]{1,40})~(${SESSION_ID_SOURCE})$`);

/** Encodes a position as the opaque `next` cursor (base64url, so it is safe in a URL). */
export function encodeCursor(position: ListPosition): string {
  return toBase64url(utf8(`${position.createdAt}~${position.id}`));
}

/**
 * The position a cursor names, or `undefined` for anything malformed (a hand-edited URL): the
 * listing then starts from the newest session instead of failing.
 */
export function decodeCursor(cursor: string | undefined): ListPosition | undefined {
  if (cursor === undefined || !/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) return undefined;
  const match = CURSOR.exec(fromUtf8(fromBase64url(cursor) ?? new Uint8Array()));
  const createdAt = Number(match?.[1]);
  if (!match || !Number.isFinite(createdAt)) return undefined;
  return { createdAt, id: match[2] as string };
}

/** Whether `a` sorts before `b` in listing order: newer first, then the greater id. */
export function listsBefore(a: ListPosition, b: ListPosition): boolean {
  return a.createdAt !== b.createdAt ? a.createdAt > b.createdAt : a.id > b.id;
}

/** Whether a record passes the query's state filter at `query.now`. */
export function matchesState(record: StoredSession, query: SessionListQuery): boolean {
  if (query.state === "active") return record.expiresAt > query.now;
  if (query.state === "expired") return record.expiresAt <= query.now;
  return true;
}

/**
 * One page of `records` for `query`. Sorts everything it is given, so it suits stores that must
 * read every record anyway (memory, files); SQL does the same with an index.
 */
export function listFromRecords(records: Iterable<readonly [string, StoredSession]>, query: SessionListQuery): SessionListPage {
  const after = decodeCursor(query.after);
  const matching: (StoredSession & { id: string })[] = [];
  for (const [id, record] of records) {
    if (query.id !== undefined && id !== query.id) continue;
    if (query.userId !== undefined && record.userId !== query.userId) continue;
    if (!matchesState(record, query)) continue;
    if (after !== undefined && !listsBefore(after, { createdAt: record.createdAt, id })) continue;
    matching.push({ ...record, id });
  }
  matching.sort((a, b) => (listsBefore(a, b) ? -1 : listsBefore(b, a) ? 1 : 0));
  return page(matching, query.limit);
}

/** Cuts `sorted` (which may hold one more than `limit`, or many more) to a page with its cursor. */
export function page(sorted: (StoredSession & { id: string })[], limit: number): SessionListPage {
  const sessions = sorted.slice(0, Math.max(0, limit));
  const last = sessions[sessions.length - 1];
  if (sorted.length <= sessions.length || last === undefined) return { sessions };
  return { sessions, next: encodeCursor({ createdAt: last.createdAt, id: last.id }) };
}
