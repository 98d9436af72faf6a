/**
 * The one way Tessera bounds a call it cannot cancel: by a deadline.
 * @module
 */
import { DeadlineError } from "./errors.js";

// Node's timers can be unref'd so an idle queue keeps no process alive; edge runtimes' timers are numbers.
const ref = (timer: unknown) => (timer as { ref?: () => void }).ref?.();
const unref = (timer: unknown) => (timer as { unref?: () => void } | undefined)?.unref?.();

/** One pending deadline, linked in the queue of its length (so settling unlinks it at once). */
interface Pending {
  readonly due: number;
  readonly expire: () => void;
  prev: Pending | undefined;
  next: Pending | undefined;
}

/**
 * The pending deadlines of one length, oldest first. Deadlines of one length fall due in the
 * order they are set, so one timer for the oldest serves them all: a store call costs a small
 * object and four links instead of a Node timer set and cleared each time (about 2 µs, the
 * largest part of a memory-backend load in the profile).
 */
class DeadlineQueue {
  #head: Pending | undefined;
  #tail: Pending | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(readonly ms: number) {}

  add(expire: () => void): Pending {
    const entry: Pending = { due: performance.now() + this.ms, expire, prev: this.#tail, next: undefined };
    if (this.#tail === undefined) this.#head = entry;
    else this.#tail.next = entry;
    this.#tail = entry;
    if (this.#timer === undefined) this.#arm(entry.due);
    // Pending calls keep the process alive, as a timer of their own did; an empty queue does not.
    else if (this.#head === entry) ref(this.#timer);
    return entry;
  }

  remove(entry: Pending): void {
    if (entry.prev === undefined) {
      if (this.#head !== entry) return; // already expired and unlinked
      this.#head = entry.next;
    } else entry.prev.next = entry.next;
    if (entry.next === undefined) this.#tail = entry.prev;
    else entry.next.prev = entry.prev;
    entry.prev = entry.next = undefined;
    if (this.#head === undefined) unref(this.#timer);
  }

  #arm(due: number): void {
    this.#timer = setTimeout(() => this.#fire(), Math.max(1, Math.ceil(due - performance.now())));
  }

  #fire(): void {
    this.#timer = undefined;
    // A timer can fire a fraction of a millisecond before performance.now() reaches its due time.
    const now = performance.now() + 1;
    while (this.#head !== undefined && this.#head.due <= now) {
      const entry = this.#head;
      this.remove(entry);
      entry.expire();
    }
    if (this.#head !== undefined) this.#arm(this.#head.due);
  }
}

const QUEUES = new Map<number, DeadlineQueue>();

/**
 * `op`'s outcome, or a {@link DeadlineError} (a BackendError, status 503) naming `backend` once
 * `ms` pass first. The operation itself goes on, and what it settles to afterwards is dropped.
 * One promise and one queue entry: this wraps every store call. `ms` of Infinity means no
 * deadline. `message` defaults to "did not answer within <ms> ms"; a function is called only
 * when the deadline passes (building the text on every call would cost every call).
 */
export function withDeadline<T>(op: Promise<T>, ms: number, backend: string, message?: string | (() => string)): Promise<T> {
  if (ms === Number.POSITIVE_INFINITY) return op;
  let queue = QUEUES.get(ms);
  if (queue === undefined) QUEUES.set(ms, (queue = new DeadlineQueue(ms)));
  const deadlines = queue;
  return new Promise<T>((resolve, reject) => {
    const entry = deadlines.add(() => {
      const text = typeof message === "function" ? message() : (message ?? `did not answer within ${ms} ms`);
      reject(new DeadlineError(backend, text, ms));
    });
    op.then(
      (value) => {
        deadlines.remove(entry);
        resolve(value);
      },
      (error: unknown) => {
        deadlines.remove(entry);
        reject(error);
      },
    );
  });
}
