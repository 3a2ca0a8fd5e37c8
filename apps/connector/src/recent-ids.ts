/** Up to this many ids are found by a scan of the ring; past it a Set is kept beside the ring. */
const SCAN_LIMIT = 32;
/** The ring's first size; it doubles when full, up to `capacity`. */
const FIRST_SLOTS = 8;

/**
 * A cheap fingerprint of an id (FNV-1a, cut to a small integer), so a scan compares numbers and reads a string
 * only on a match: ids of one publisher share long prefixes, which a string comparison walks every time.
 */
function fingerprint(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  return hash & 0x3fffffff;
}

/**
 * Ids seen lately, at most `capacity` of them and none older than `ttlMs`: a ring of ids and their times,
 * which reallocates only when it grows. A connection that receives a message a second keeps about ten, found
 * by a scan; a busy one gets a Set for its lookups. Tables rebuilt as entries come and go would live as long
 * as the connection's ids, long enough to reach the old generation, and every message would leave garbage
 * there. Emptied by `prune`, it holds nothing, so a connection that stops receiving gives its memory back.
 *
 * @example
 * const recent = new RecentIds(2_000, 10_000);
 * recent.add("m1", Date.now()); recent.has("m1"); // true
 */
export class RecentIds {
  #ids: string[] = [];
  #at: number[] = [];
  /** The ids' fingerprints, kept while the ring is scanned (no Set). */
  #marks: number[] = [];
  /** Slot of the oldest entry. */
  #head = 0;
  #size = 0;
  #set: Set<string> | undefined;

  constructor(
    private readonly capacity: number,
    private readonly ttlMs: number,
  ) {}

  get size(): number {
    return this.#size;
  }

  has(id: string): boolean {
    if (this.#set) return this.#set.has(id);
    const mark = fingerprint(id);
    const slots = this.#ids.length;
    for (let i = 0, slot = this.#head; i < this.#size; i++, slot = slot + 1 === slots ? 0 : slot + 1) {
      if (this.#marks[slot] === mark && this.#ids[slot] === id) return true;
    }
    return false;
  }

  add(id: string, now: number): void {
    if (!this.has(id)) this.addNew(id, now);
  }

  /** `add` for an id the caller knows is not held (it saves the lookup); adding a held one would count it twice. */
  addNew(id: string, now: number): void {
    this.prune(now);
    if (this.#size >= this.capacity) this.#evictOldest();
    if (this.#size === this.#ids.length) this.#grow();
    const slot = (this.#head + this.#size) % this.#ids.length;
    this.#ids[slot] = id;
    this.#at[slot] = now;
    this.#size++;
    if (this.#set) this.#set.add(id);
    else if (this.#size > SCAN_LIMIT) this.#set = new Set(this.#live());
    else this.#marks[slot] = fingerprint(id);
  }

  /** Forgets what is older than the ttl; once empty, the ring is let go. */
  prune(now: number): void {
    while (this.#size > 0 && (this.#at[this.#head] ?? now) <= now - this.ttlMs) this.#evictOldest();
    if (this.#size === 0 && this.#ids.length > 0) {
      this.#ids = [];
      this.#at = [];
      this.#marks = [];
      this.#head = 0;
    }
  }

  #evictOldest(): void {
    const id = this.#ids[this.#head];
    if (id !== undefined) this.#set?.delete(id);
    this.#ids[this.#head] = "";
    this.#head = this.#head + 1 === this.#ids.length ? 0 : this.#head + 1;
    this.#size--;
    if (this.#set && this.#size <= SCAN_LIMIT / 2) {
      this.#set = undefined;
      this.#remark();
    }
  }

  /** Fingerprints for the ids held, when the scan takes over from the Set. */
  #remark(): void {
    for (let i = 0; i < this.#size; i++) {
      const slot = (this.#head + i) % this.#ids.length;
      this.#marks[slot] = fingerprint(this.#ids[slot] ?? "");
    }
  }

  *#live(): Generator<string> {
    for (let i = 0; i < this.#size; i++) yield this.#ids[(this.#head + i) % this.#ids.length] ?? "";
  }

  /** A ring twice the size (at most `capacity`), the entries moved to its start in order. */
  #grow(): void {
    const slots = Math.max(1, Math.min(this.capacity, Math.max(FIRST_SLOTS, this.#ids.length * 2)));
    const ids = new Array<string>(slots).fill("");
    const at = new Array<number>(slots).fill(0);
    const marks = new Array<number>(slots).fill(0);
    for (let i = 0; i < this.#size; i++) {
      const from = (this.#head + i) % this.#ids.length;
      ids[i] = this.#ids[from] ?? "";
      at[i] = this.#at[from] ?? 0;
      marks[i] = this.#marks[from] ?? 0;
    }
    this.#ids = ids;
    this.#at = at;
    this.#marks = marks;
    this.#head = 0;
  }
}
