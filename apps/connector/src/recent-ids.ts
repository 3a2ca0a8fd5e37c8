/**
 * Ids seen lately, at most `capacity` of them and none older than `ttlMs`: a FIFO (ids and their times in
 * parallel arrays, so no object per entry) beside a Set for lookups. Emptied by `prune`, it holds nothing, so
 * a connection that stops receiving gives its memory back.
 *
 * @example
 * const recent = new RecentIds(2_000, 10_000);
 * recent.add("m1", Date.now()); recent.has("m1"); // true
 */
export class RecentIds {
  #set = new Set<string>();
  #ids: string[] = [];
  #at: number[] = [];
  /** Index of the oldest live entry in `#ids`/`#at`. */
  #head = 0;

  constructor(
    private readonly capacity: number,
    private readonly ttlMs: number,
  ) {}

  get size(): number {
    return this.#set.size;
  }

  has(id: string): boolean {
    return this.#set.has(id);
  }

  add(id: string, now: number): void {
    if (this.#set.has(id)) return;
    this.#set.add(id);
    this.#ids.push(id);
    this.#at.push(now);
    while (this.#set.size > this.capacity) this.#evictOldest();
    this.prune(now);
  }

  /** Forgets what is older than the ttl; the arrays are compacted once mostly evicted. */
  prune(now: number): void {
    while (this.#head < this.#ids.length && (this.#at[this.#head] ?? now) <= now - this.ttlMs) {
      this.#evictOldest();
    }
    if (this.#head === this.#ids.length) {
      this.#ids = [];
      this.#at = [];
      this.#head = 0;
    } else if (this.#head >= 64 && this.#head * 2 >= this.#ids.length) {
      this.#ids = this.#ids.slice(this.#head);
      this.#at = this.#at.slice(this.#head);
      this.#head = 0;
    }
  }

  #evictOldest(): void {
    const id = this.#ids[this.#head];
    if (id !== undefined) this.#set.delete(id);
    this.#ids[this.#head] = "";
    this.#head++;
  }
}
