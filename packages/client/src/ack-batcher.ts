/**
 * Collects message ids and hands them to `send` in batches of at most `maxIds`: a full batch goes out at once,
 * the rest after `delayMs` (0 = the next macrotask, which gathers every ack of the frames received in one
 * read). Fewer frames means fewer JetStream publishes on the connector.
 *
 * @example
 * const acks = new AckBatcher((ids) => socket.send(JSON.stringify({ type: "ack", ids })), 1000, 0);
 * acks.add("m1"); acks.add("m2"); // one frame with both
 */
export class AckBatcher {
  #pending: string[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly send: (ids: string[]) => void,
    private readonly maxIds: number,
    private readonly delayMs: number,
  ) {}

  get pending(): number {
    return this.#pending.length;
  }

  add(id: string): void {
    this.#pending.push(id);
    if (this.#pending.length >= this.maxIds) {
      this.#sendBatch();
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.flush();
      }, this.delayMs);
    }
  }

  /** Sends everything pending now, in as many frames as needed. */
  flush(): void {
    this.#cancelTimer();
    while (this.#pending.length > 0) this.#sendBatch();
  }

  /** Forgets pending ids (their connection is gone: the server will deliver them again). */
  clear(): void {
    this.#cancelTimer();
    this.#pending = [];
  }

  #sendBatch(): void {
    const ids = this.#pending.splice(0, this.maxIds);
    if (this.#pending.length === 0) this.#cancelTimer();
    if (ids.length > 0) this.send(ids);
  }

  #cancelTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
