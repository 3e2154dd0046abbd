/**
 * A bounded map for the read path, with a guard against the classic race: a
 * read that fetched before a write committed must not put its stale result in
 * the cache after the write invalidated it. Callers take `epoch` before they
 * fetch and pass it to `set`; any invalidation in between makes `set` a no-op.
 * Eviction is oldest-inserted first, which costs nothing on a hit.
 *
 * The oldest entry comes from one iterator kept from eviction to eviction.
 * A Map keeps the slots of deleted entries until it compacts (V8), so
 * `keys().next()` from the start stepped over every entry evicted since: an
 * eviction cost O(capacity), 19 µs at 20,000 entries and 53 at 200,000. A
 * Map's iterator is live: it steps over each slot once and sees entries set
 * after it was made. Every entry before it was evicted (it yielded them) or
 * deleted, so it never reaches the end while an entry is left. It is made
 * at an eviction and dropped with an invalidation: one that stood still
 * while the Map grew kept every table the Map outgrew (200,000 entries:
 * 12.5 MiB of heap instead of 5.5).
 *
 * The capacity counts entries, or with `weigh` units of each entry's weight,
 * for a cache whose entries differ in size by orders of magnitude (the
 * secret cache: a value of 100 bytes or of 64 KiB).
 */
export class Cache<K, V> {
  #entries = new Map<K, V>();
  #oldest: MapIterator<K> | undefined;
  #capacity: number;
  #weigh: (value: V) => number;
  #weight = 0;
  #epoch = 0;

  constructor(capacity: number, weigh: (value: V) => number = () => 1) {
    this.#capacity = capacity;
    this.#weigh = weigh;
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
    // A capacity of 0 is a cache turned off by its setting; an entry heavier than the whole cache is not kept.
    const weight = this.#weigh(value);
    if (epochAtFetch !== this.#epoch || weight > this.#capacity) return;
    this.#remove(key);
    while (this.#weight + weight > this.#capacity) this.#remove((this.#oldest ??= this.#entries.keys()).next().value as K);
    this.#entries.set(key, value);
    this.#weight += weight;
  }

  delete(...keys: K[]): void {
    this.#epoch++;
    this.#oldest = undefined;
    for (const key of keys) this.#remove(key);
  }

  clear(): void {
    this.#epoch++;
    this.#oldest = undefined;
    this.#entries.clear();
    this.#weight = 0;
  }

  #remove(key: K): void {
    const value = this.#entries.get(key);
    if (value === undefined && !this.#entries.has(key)) return;
    this.#entries.delete(key);
    this.#weight -= this.#weigh(value as V);
  }
}
