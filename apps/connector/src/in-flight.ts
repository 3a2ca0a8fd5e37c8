/**
 * A connection's messages sent and not yet acked, by id. A connection that receives now and then has one in
 * flight at a time, held here without a `Map`: a Map made for each message (and dropped with its last ack, as a
 * shrinking one would rebuild its table) was a large share of what the connector promoted to the old generation
 * while receiving (bench/README.md, "Where a receiving connection's memory goes"). A `Map` is made when a second
 * message goes out before the first is acked, and dropped when it empties.
 *
 * @example
 * const sent = new InFlight<number>();
 * sent.add("m1", 1); sent.add("m2", 2); sent.take("m1"); // 1
 * [...sent.ids()]; // ["m2"]
 */
export class InFlight<T> {
  #id: string | undefined;
  #one: T | undefined;
  #many: Map<string, T> | undefined;

  get size(): number {
    return this.#many?.size ?? (this.#id === undefined ? 0 : 1);
  }

  get(id: string): T | undefined {
    if (this.#many) return this.#many.get(id);
    return id === this.#id ? this.#one : undefined;
  }

  /** Adds `id`, or replaces its entry; insertion order is kept (`values` and `ids` list oldest first). */
  add(id: string, entry: T): void {
    if (this.#many) {
      this.#many.set(id, entry);
    } else if (this.#id === undefined || this.#id === id) {
      this.#id = id;
      this.#one = entry;
    } else {
      this.#many = new Map([
        [this.#id, this.#one as T],
        [id, entry],
      ]);
      this.#id = undefined;
      this.#one = undefined;
    }
  }

  /** Removes `id` and returns its entry (undefined when it was not in flight). */
  take(id: string): T | undefined {
    if (this.#many) {
      const entry = this.#many.get(id);
      if (entry === undefined) return undefined;
      // The last one out drops the Map: deleting it would shrink the table into a new one that lives on.
      if (this.#many.size === 1) this.#many = undefined;
      else this.#many.delete(id);
      return entry;
    }
    if (id !== this.#id) return undefined;
    const entry = this.#one;
    this.#id = undefined;
    this.#one = undefined;
    return entry;
  }

  values(): Iterable<T> {
    if (this.#many) return this.#many.values();
    return this.#id === undefined ? [] : [this.#one as T];
  }

  ids(): Iterable<string> {
    if (this.#many) return this.#many.keys();
    return this.#id === undefined ? [] : [this.#id];
  }
}
