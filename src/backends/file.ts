/**
 * `fileBackend({ directory })`: one JSON file per session in a directory (Django's file engine).
 *
 * - Names: `<sha256 of the key, hex>.session`. The key never reaches a path (no traversal, no
 *   usable key in a directory listing or a backup).
 * - Writes: a temp file in the same directory, then `rename` over the target, so a reader sees
 *   the old record or the new one, never a torn file. No fsync: after a power loss a file may
 *   come back empty or stale; an unreadable file loads as a missing session, never a crash.
 * - Create: an empty placeholder opened with O_EXCL (`wx`) claims the key atomically, then the
 *   record is renamed over it (Django's approach). A placeholder counts as "exists" but loads
 *   as missing.
 * - Update/delete: under a per-key lock, because "compare the version, then rename" is two steps.
 *   The lock is an in-process queue (no busy waiting inside one process) plus an O_EXCL lock
 *   file (`<hash>.lock`) for other processes. Limits: it assumes a local file system with
 *   atomic O_EXCL (not every network share provides it); a lock left by a crashed process is
 *   broken after {@link STALE_LOCK_MS}, and two processes breaking the same stale lock at the
 *   same instant could both proceed (then the later version check can miss one update).
 * - The user index (listByUser, deleteByUser), listSessions and clearExpired read every file: O(sessions).
 * @module
 */
import { randomBytes } from "node:crypto";
import { accessSync, constants, statSync } from "node:fs";
import { open, readdir, readFile, rename, stat, unlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { BackendError, ConfigurationError, CreateError, UpdateError, VersionConflictError } from "../errors.js";
import { hashKey, isSessionId, SESSION_ID_SOURCE } from "../keys.js";
import type { ServerBackend, SessionListPage, SessionListQuery, StoredSession } from "./base.js";
import { listFromRecords } from "./listing.js";
import { isRecord, toRecord } from "./record.js";

const NAME = "file";
/** A lock file older than this was left by a crashed process; holders need milliseconds. */
const STALE_LOCK_MS = 5_000;
/** How long an update waits for a busy lock before failing with a BackendError. */
const LOCK_WAIT_MS = 8_000;
/** Temp files and empty placeholders older than this are debris of a crash; clearExpired removes them. */
const DEBRIS_AGE_MS = 60_000;
const SESSION_FILE = new RegExp(`^${SESSION_ID_SOURCE}\\.session$`);
const TEMP_FILE = new RegExp(`^${SESSION_ID_SOURCE}\\.[0-9a-f]{12}\\.tmp$`);
const LOCK_FILE = new RegExp(`^${SESSION_ID_SOURCE}\\.lock$`);

/** Options of {@link fileBackend}. */
export interface FileBackendOptions {
  /**
   * An existing directory the process can read and write; it should hold nothing but sessions.
   * Files it does not recognise are left alone.
   * @example directory: "/var/lib/myapp/sessions"
   */
  directory: string;
}

/** The backend {@link fileBackend} returns. */
export interface FileBackend extends ServerBackend {
  /** The absolute path of the session directory. */
  readonly directory: string;
  clearExpired(now: number): Promise<number>;
  listByUser(userId: string, now: number): Promise<(StoredSession & { readonly id: string })[]>;
  deleteByUser(userId: string, exceptId?: string): Promise<number>;
  deleteById(id: string): Promise<void>;
  listSessions(query: SessionListQuery): Promise<SessionListPage>;
}

/**
 * A server-side backend keeping each session in its own file. Suits a single server or several
 * processes on one machine; use the database or cache backend across machines.
 */
export function fileBackend(options: FileBackendOptions): FileBackend {
  // Resolved once, so a later process.chdir() cannot move the sessions.
  const directory = resolve(checkDirectory(options?.directory));
  const pathOf = (id: string, suffix = ".session") => join(directory, id + suffix);
  const queues = new Map<string, Promise<unknown>>();

  /** Runs `work` while holding the key's lock: first this process's queue, then the lock file. */
  async function withLock<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = queues.get(id) ?? Promise.resolve();
    const run = previous.then(() => withLockFile(pathOf(id, ".lock"), work));
    const tail = run.catch(() => undefined);
    queues.set(id, tail);
    try {
      return await run;
    } finally {
      if (queues.get(id) === tail) queues.delete(id);
    }
  }

  /** Writes `record` to a temp file and renames it over `target`; the temp file never outlives a failure. */
  async function writeRecord(id: string, record: StoredSession): Promise<void> {
    const temp = pathOf(id, `.${randomBytes(6).toString("hex")}.tmp`);
    const handle = await open(temp, "wx", 0o600); // wx: never write into someone else's temp file
    try {
      try {
        await handle.writeFile(JSON.stringify(record));
      } finally {
        await handle.close();
      }
      await rename(temp, pathOf(id));
    } catch (error) {
      await unlinkQuietly(temp).catch(() => undefined); // keep the original error
      throw error;
    }
  }

  /** Each session file's id and its record as read now. */
  async function* sessionFiles(): AsyncGenerator<{ id: string; record: ReadResult }> {
    for (const entry of await readdir(directory)) {
      if (!SESSION_FILE.test(entry)) continue;
      const id = entry.slice(0, -".session".length);
      yield { id, record: await readRecord(pathOf(id)) };
    }
  }

  /** Deletes record `id` if `doomed` still holds for it as read under its lock. */
  function deleteIf(id: string, doomed: (record: ReadResult) => Promise<boolean>): Promise<boolean> {
    return withLock(id, async () => {
      const record = await readRecord(pathOf(id));
      if (record === "missing" || !(await doomed(record))) return false;
      await unlinkQuietly(pathOf(id));
      return true;
    });
  }

  return {
    kind: "server",
    name: NAME,
    directory,
    async load(key, now) {
      const record = await readRecord(pathOf(hashKey(key)));
      // The absolute expiry decides, whatever setExpiry was given (Django never enforced N seconds here).
      return typeof record === "object" && record.expiresAt > now ? record : null;
    },
    async create(key, write) {
      const id = hashKey(key);
      try {
        await (await open(pathOf(id), "wx", 0o600)).close();
      } catch (error) {
        if (codeOf(error) === "EEXIST") throw new CreateError();
        throw error;
      }
      try {
        await writeRecord(id, toRecord(write, 1, write.now));
      } catch (error) {
        // Drop the placeholder, so the key is not left half-created; keep the original error.
        await unlinkQuietly(pathOf(id)).catch(() => undefined);
        throw error;
      }
    },
    async update(key, write, expectedVersion) {
      const id = hashKey(key);
      await withLock(id, async () => {
        const current = await readRecord(pathOf(id));
        // Missing, an unfinished create, or unreadable: the record is gone; never resurrect it.
        if (typeof current !== "object") throw new UpdateError();
        if (current.version !== expectedVersion) throw new VersionConflictError();
        await writeRecord(id, toRecord(write, expectedVersion + 1, current.createdAt));
      });
    },
    async delete(key) {
      const id = hashKey(key);
      // Locked, so an update in flight cannot rename its record back after the delete.
      await withLock(id, () => unlinkQuietly(pathOf(id)));
    },
    async exists(key) {
      const missing = (error: unknown) => (codeOf(error) === "ENOENT" ? false : Promise.reject(error));
      return stat(pathOf(hashKey(key))).then(() => true, missing);
    },
    // The user index scans the directory: fine for the few thousand sessions a file store suits.
    async listByUser(userId, now) {
      const found: (StoredSession & { id: string })[] = [];
      for await (const { id, record } of sessionFiles()) {
        if (typeof record === "object" && record.userId === userId && record.expiresAt > now) found.push({ ...record, id });
      }
      return found;
    },
    async deleteByUser(userId, exceptId) {
      let removed = 0;
      for await (const { id, record } of sessionFiles()) {
        const mine = (r: ReadResult) => typeof r === "object" && r.userId === userId && id !== exceptId;
        if (mine(record) && (await deleteIf(id, async (again) => mine(again)))) removed++;
      }
      return removed;
    },
    async deleteById(id) {
      // The id comes from the app (an admin page, a listing): only a hash may name a file.
      if (isSessionId(id)) await withLock(id, () => unlinkQuietly(pathOf(id)));
    },
    // Reads every file (or the one named by query.id), like the user index.
    async listSessions(query) {
      if (query.id !== undefined) {
        const record = isSessionId(query.id) ? await readRecord(pathOf(query.id)) : "missing";
        return listFromRecords(typeof record === "object" ? [[query.id, record]] : [], query);
      }
      const records: [string, StoredSession][] = [];
      for await (const { id, record } of sessionFiles()) if (typeof record === "object") records.push([id, record]);
      return listFromRecords(records, query);
    },
    /** Deletes expired and unreadable records (counted) and crash debris: old temp, lock and placeholder files. */
    async clearExpired(now) {
      for (const entry of await readdir(directory)) {
        const stale = LOCK_FILE.test(entry) ? STALE_LOCK_MS : TEMP_FILE.test(entry) ? DEBRIS_AGE_MS : undefined;
        if (stale !== undefined && (await isOlderThan(join(directory, entry), stale))) await unlinkQuietly(join(directory, entry));
      }
      const dead = async (id: string, r: ReadResult) =>
        typeof r === "object" ? r.expiresAt < now : r === "invalid" || (r === "empty" && (await isOlderThan(pathOf(id), DEBRIS_AGE_MS)));
      let removed = 0;
      for await (const { id, record } of sessionFiles()) {
        // Decided again under the lock: an update may have extended it since the first read.
        if ((await dead(id, record)) && (await deleteIf(id, (again) => dead(id, again)))) removed++;
      }
      return removed;
    },
  };
}

function checkDirectory(directory: unknown): string {
  if (typeof directory !== "string" || directory === "") {
    throw new ConfigurationError('fileBackend needs a directory: fileBackend({ directory: "/var/lib/myapp/sessions" }).');
  }
  const shown = JSON.stringify(directory);
  let isDirectory = false;
  try {
    isDirectory = statSync(directory).isDirectory();
    if (isDirectory) accessSync(directory, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (error) {
    if (isDirectory)
      throw new ConfigurationError(`The session directory ${shown} is not readable and writable by this process; fix its permissions.`, { cause: error });
  }
  if (!isDirectory) {
    throw new ConfigurationError(
      `The session directory ${shown} does not exist or is not a directory. Create it first (for example: mkdir -p ${shown}) and make it writable by this process.`,
    );
  }
  return directory;
}

/** Takes the lock file with O_EXCL, runs `work`, and removes it; breaks a lock older than STALE_LOCK_MS. */
async function withLockFile<T>(lockPath: string, work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      await (await open(lockPath, "wx", 0o600)).close();
      break;
    } catch (error) {
      if (codeOf(error) !== "EEXIST") throw error;
    }
    // Lock age is wall-clock time on the file system, unrelated to the session clock.
    if (await isOlderThan(lockPath, STALE_LOCK_MS)) {
      await unlinkQuietly(lockPath);
      continue;
    }
    if (Date.now() > deadline) {
      throw new BackendError(NAME, `timed out after ${LOCK_WAIT_MS} ms waiting for the lock ${lockPath}; another process holds it.`);
    }
    await sleep(2 + Math.floor(Math.random() * 8)); // jitter, so waiting processes do not move in step
  }
  try {
    return await work();
  } finally {
    await unlinkQuietly(lockPath);
  }
}

type ReadResult = StoredSession | "missing" | "empty" | "invalid";

/**
 * The record in `path`: the parsed record, "missing" (no file), "empty" (a create's placeholder)
 * or "invalid" (anything that is not a well-formed record; never thrown).
 */
async function readRecord(path: string): Promise<ReadResult> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if (codeOf(error) === "ENOENT") return "missing";
    if (codeOf(error) === "EISDIR") return "invalid";
    throw error;
  }
  if (text === "") return "empty";
  try {
    const value: unknown = JSON.parse(text);
    return isRecord(value) ? value : "invalid";
  } catch {
    return "invalid";
  }
}

async function isOlderThan(path: string, ageMs: number): Promise<boolean> {
  try {
    return Date.now() - (await stat(path)).mtimeMs > ageMs;
  } catch {
    return false; // gone meanwhile: nothing to clean
  }
}

async function unlinkQuietly(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if (codeOf(error) !== "ENOENT") throw error;
  }
}

function codeOf(error: unknown): unknown {
  return (error as { code?: unknown } | null)?.code;
}
