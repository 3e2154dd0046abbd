/**
 * A bounded map for the read path, with a guard against the classic race: a
 * read that fetched before a write committed must not put its stale result in
 * the cache after the write invalidated it. Callers take `epoch` before they
 * fetch and pass it to `set`; any invalidation in between makes `set` a no-op.
 * Eviction is oldest-inserted first, which costs nothing on a hit.
 */
export class Cache<K, V> {
  #entries = new Map<K, V>();
  #capacity: number;
  #epoch = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get epoch(): number {
    return this.#epoch;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: K): V | undefined {
    return this.#entries.get(key);
  }

  set(key: K, value: V, epochAtFetch: number): void {
    // A capacity of 0 is a cache turned off by its setting.
    if (epochAtFetch !== this.#epoch || this.#capacity === 0) return;
    if (this.#entries.size >= this.#capacity && !this.#entries.has(key)) {
      this.#entries.delete(this.#entries.keys().next().value as K);
    }
    this.#entries.set(key, value);
  }

  delete(...keys: K[]): void {
    this.#epoch++;
    for (const key of keys) this.#entries.delete(key);
  }

  deleteWhere(predicate: (key: K, value: V) => boolean): void {
    this.#epoch++;
    for (const [key, value] of this.#entries) {
      if (predicate(key, value)) this.#entries.delete(key);
    }
  }

  clear(): void {
    this.#epoch++;
    this.#entries.clear();
  }
}
