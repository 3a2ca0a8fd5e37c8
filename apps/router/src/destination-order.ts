/** A write not issued because an earlier message to the same destination has not been stored yet. */
export class OrderFenceError extends Error {
  override name = "OrderFenceError";
  readonly code = "order_fence";
}

/**
 * The least a handed-back message is waited for past its retry time before its fence is dropped: a loaded
 * server may return it late, and dropping the fence early would let a later message overtake it.
 */
export const MIN_FENCE_GRACE_MS = 10_000;

/** How long after the message it waits for a handed-back message is asked to come back. */
export const AFTER_EARLIER_MS = 100;

/**
 * Keeps each destination's writes in intake order, also when writes fail. Writes to one destination (a
 * user's mailbox, a channel) are issued one after another: the next only once the previous one's PubAck came.
 * Pipelining them would let a later write be stored while an earlier one is lost (a stream leader change
 * mid-flight), and the earlier one, retried, would then land after it. Every message handed back unwritten
 * (its write failed, or it was fenced) waits on its destinations: a later message to them is fenced until
 * each earlier waiting one has come back and been stored, whatever order the server hands them back in.
 *
 * @example
 * const order = new DestinationOrder(10_000);
 * const ack = await order.write("alice", msg.seq, () => publisher.publish(subject, body));
 */
export class DestinationOrder {
  private readonly tails = new Map<string, Promise<unknown>>();
  /** Per destination: intake messages handed back unwritten, sequence → when it should come back. */
  private readonly waiting = new Map<string, Map<number, number>>();

  constructor(
    /** How long a waiting message is waited for past its retry time: one that never comes back must not block forever. */
    private readonly graceMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Destinations with a write in flight or a message waiting (for metrics and tests). */
  get size(): number {
    return new Set([...this.tails.keys(), ...this.waiting.keys()]).size;
  }

  /**
   * Issues `issue` for intake message `seq` once `key`'s previous write is stored: at once (synchronously,
   * keeping wire order) when none is in flight. Rejects with `OrderFenceError`, without issuing, while an
   * earlier message to `key` waits to come back; rejects with the previous write's error when that one failed.
   */
  write<T>(key: string, seq: number, issue: () => Promise<T>): Promise<T> {
    const earlier = this.earliestWaiting(key, seq);
    if (earlier !== undefined) {
      return Promise.reject(new OrderFenceError(`waiting for intake message ${earlier} to be stored`));
    }
    // A message coming back starts afresh: what is chained behind its last attempt failed with it.
    const previous = this.waiting.get(key)?.has(seq) ? undefined : this.tails.get(key);
    const result = previous ? previous.then(issue) : issue();
    this.tails.set(key, result);
    const settled = () => {
      if (this.tails.get(key) === result) this.tails.delete(key);
    };
    result.then(() => {
      this.forget(key, seq);
      settled();
    }, settled);
    return result;
  }

  /**
   * Records that message `seq` was handed back unwritten and comes back at `retryAt`; returns when it
   * should come back: not before the earlier message it waits for (so most of the time none is fenced twice).
   */
  block(keys: readonly string[], seq: number, retryAt: number): number {
    let latest = retryAt;
    for (const key of keys) {
      const earlier = this.earliestWaiting(key, seq);
      const earlierRetryAt = earlier === undefined ? undefined : this.waiting.get(key)?.get(earlier);
      if (earlierRetryAt !== undefined) latest = Math.max(latest, earlierRetryAt + AFTER_EARLIER_MS);
    }
    for (const key of keys) {
      const waiting = this.waiting.get(key) ?? new Map<number, number>();
      waiting.set(seq, latest);
      this.waiting.set(key, waiting);
    }
    return latest;
  }

  /** Forgets every waiting message (on a new consuming session: what was handed back goes to whoever consumes). */
  reset(): void {
    this.waiting.clear();
  }

  /** The lowest sequence below `seq` still waiting on `key`; drops the ones past their grace. */
  private earliestWaiting(key: string, seq: number): number | undefined {
    const waiting = this.waiting.get(key);
    if (!waiting) return undefined;
    const now = this.now();
    let earliest: number | undefined;
    for (const [other, retryAt] of waiting) {
      if (now > retryAt + this.graceMs) waiting.delete(other);
      else if (other < seq && (earliest === undefined || other < earliest)) earliest = other;
    }
    if (waiting.size === 0) this.waiting.delete(key);
    return earliest;
  }

  private forget(key: string, seq: number): void {
    const waiting = this.waiting.get(key);
    if (!waiting?.delete(seq)) return;
    if (waiting.size === 0) this.waiting.delete(key);
  }
}
