/**
 * The one way Tessera bounds a call it cannot cancel: by a deadline.
 * @module
 */
import { DeadlineError } from "./errors.js";

/**
 * `op`'s outcome, or a {@link DeadlineError} (a BackendError, status 503) naming `backend` once
 * `ms` pass first. The operation itself goes on, and what it settles to afterwards is dropped.
 * One promise and one timer: this wraps every store call. `ms` of Infinity means no deadline.
 * `message` defaults to "did not answer within <ms> ms".
 */
export function withDeadline<T>(op: Promise<T>, ms: number, backend: string, message?: string): Promise<T> {
  if (ms === Number.POSITIVE_INFINITY) return op;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new DeadlineError(backend, message ?? `did not answer within ${ms} ms`, ms)), ms);
    op.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
