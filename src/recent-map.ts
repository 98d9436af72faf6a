/**
 * A Map that keeps the most recently put entries, for the bounded caches and the memory store.
 * @module
 */

/**
 * A Map bounded to `limit` entries: `put` makes a key the newest and drops the oldest past the
 * limit, in constant time. (A fresh `keys().next()` per eviction is not constant: V8 leaves
 * deleted entries in place until the table is rebuilt, and each fresh iterator walks over all of
 * them, about 13 µs per eviction in a full 10,000-entry map.) One cursor walks the map instead:
 * everything before it has been evicted or deleted, so its next key is always the oldest.
 */
export class RecentMap<K, V> extends Map<K, V> {
  readonly #limit: number;
  #cursor: Iterator<K> | undefined;

  constructor(limit: number) {
    super();
    this.#limit = limit;
  }

  /** Sets `key` as the newest entry, dropping the oldest one when over the limit. */
  put(key: K, value: V): this {
    this.delete(key);
    this.set(key, value);
    if (this.size > this.#limit) this.#evictOldest();
    return this;
  }

  #evictOldest(): void {
    this.#cursor ??= this.keys();
    let next = this.#cursor.next();
    if (next.done === true) {
      // The cursor ran past the end (entries deleted behind it): start a new pass.
      this.#cursor = this.keys();
      next = this.#cursor.next();
    }
    if (next.done !== true) this.delete(next.value);
  }
}
