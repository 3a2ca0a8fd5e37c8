/**
 * A bounded set of recently handled message ids. When full, the id touched least recently is forgotten.
 * A `Set` keeps insertion order, so re-inserting an id on access makes it the newest: O(1) LRU.
 *
 * @example
 * const seen = new SeenIds(2);
 * seen.add("a"); seen.add("b"); seen.add("c");
 * seen.has("a") // false: evicted
 */
export class SeenIds {
  readonly #ids = new Set<string>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError("capacity must be a positive integer");
  }

  get size(): number {
    return this.#ids.size;
  }

  /** Whether `id` was added and not yet evicted; a hit makes it the most recent. */
  has(id: string): boolean {
    if (!this.#ids.has(id)) return false;
    this.#ids.delete(id);
    this.#ids.add(id);
    return true;
  }

  add(id: string): void {
    this.#ids.delete(id);
    this.#ids.add(id);
    if (this.#ids.size > this.capacity) {
      const oldest = this.#ids.values().next();
      if (!oldest.done) this.#ids.delete(oldest.value);
    }
  }
}
