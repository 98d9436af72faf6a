/**
 * The one way Tessera bounds a call it cannot cancel: by a deadline.
 * @module
 */

/**
 * `op`'s outcome, or `onTimeout()`'s error once `ms` pass first (the operation itself goes on,
 * and what it settles to afterwards is dropped). One promise and one timer: this wraps every
 * store call. `ms` of Infinity means no deadline.
 */
export function withDeadline<T>(op: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  if (ms === Number.POSITIVE_INFINITY) return op;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
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
