/** A write not issued because an earlier message to the same destination has not been stored yet. */
export class OrderFenceError extends Error {
  override name = "OrderFenceError";
  readonly code = "order_fence";
}

type Block = { seq: number; retryAt: number };

/**
 * Keeps each destination's writes in intake order, also when a write fails. Writes to one destination (a
 * user's mailbox, a channel) are issued one after another: the next only once the previous one's PubAck came.
 * Pipelining them would let a later write be stored while an earlier one is lost (a stream leader change
 * mid-flight), and the earlier one, retried, would then land after it. A failed message blocks its
 * destinations: later messages to them are handed back unwritten until it comes again and is stored.
 *
 * @example
 * const order = new DestinationOrder();
 * const ack = await order.write("alice", msg.seq, () => publisher.publish(subject, body));
 */
export class DestinationOrder {
  private readonly tails = new Map<string, Promise<unknown>>();
  private readonly blocks = new Map<string, Block>();

  constructor(
    /** How long a block outlives its retry time: a message that never comes back must not block forever. */
    private readonly blockGraceMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Destinations with a write in flight or a block (for metrics and tests). */
  get size(): number {
    return new Set([...this.tails.keys(), ...this.blocks.keys()]).size;
  }

  /**
   * Issues `issue` for intake message `seq` once `key`'s previous write is stored: at once (synchronously,
   * keeping wire order) when none is in flight. Rejects with `OrderFenceError`, without issuing, while an
   * earlier message to `key` is blocked; rejects with the previous write's error when that one failed.
   */
  write<T>(key: string, seq: number, issue: () => Promise<T>): Promise<T> {
    const block = this.blocks.get(key);
    if (block && this.now() > block.retryAt + this.blockGraceMs) this.blocks.delete(key);
    else if (block && seq > block.seq) {
      return Promise.reject(new OrderFenceError(`waiting for intake message ${block.seq} to be stored`));
    }
    // The blocked message itself starts afresh: what is chained behind its last attempt failed with it.
    const previous = block ? undefined : this.tails.get(key);
    const result = previous ? previous.then(issue) : issue();
    this.tails.set(key, result);
    const settled = () => {
      if (this.tails.get(key) === result) this.tails.delete(key);
    };
    result.then(() => {
      if (this.blocks.get(key)?.seq === seq) this.blocks.delete(key);
      settled();
    }, settled);
    return result;
  }

  /**
   * Records that message `seq` failed and comes back at `retryAt`; returns when a message blocked behind
   * these destinations should come back (after the blocker, so redelivery keeps intake order).
   */
  block(keys: readonly string[], seq: number, retryAt: number): number {
    let latest = retryAt;
    for (const key of keys) {
      const current = this.blocks.get(key);
      if (!current || seq <= current.seq) this.blocks.set(key, { seq, retryAt });
      else latest = Math.max(latest, current.retryAt + 100);
    }
    return latest;
  }

  /** Forgets every block (on a new consuming session: what was held came back to whoever consumes). */
  reset(): void {
    this.blocks.clear();
  }
}
