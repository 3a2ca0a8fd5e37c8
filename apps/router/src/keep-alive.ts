export type KeepAliveOptions<T> = {
  /**
   * The sweep interval, and the age at which an item is pinged: a sixth of the consumer's `ack_wait`, so no
   * held item goes more than a third of it without a ping, leaving room for a late timer on a busy host.
   */
  everyMs: number;
  /** Tells the server the item is still being worked on (`msg.working()`), resetting its ack timer. */
  ping: (item: T) => void;
  now?: () => number;
};

/**
 * Keeps the intake messages this replica holds (queued in the pipeline, or waiting for an earlier write to the
 * same destination) from being redelivered while it still routes them. That is what lets `ack_wait` be short:
 * a dead replica's messages come back to its successor after `ack_wait`, so `ack_wait` bounds the failover
 * pause, while a live but loaded replica never has a held message redelivered behind its back. An item is
 * pinged at most `2 × everyMs` after it was tracked or last pinged, and only once it has been held
 * `everyMs`: messages routed in time (nearly all) cost nothing.
 *
 * @example
 * const held = new KeepAlive({ everyMs: 1_000, ping: (msg) => msg.working() });
 * held.start();
 * held.track(msg); // ... routed ...
 * held.release(msg);
 */
export class KeepAlive<T> {
  private readonly since = new Map<T, number>();
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly options: KeepAliveOptions<T>) {
    this.now = options.now ?? (() => performance.now());
  }

  /** Items held. */
  get size(): number {
    return this.since.size;
  }

  track(item: T): void {
    this.since.set(item, this.now());
  }

  release(item: T): void {
    this.since.delete(item);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.sweep(), this.options.everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Pings every item held for `everyMs` since it was tracked or last pinged; returns how many. */
  sweep(): number {
    const now = this.now();
    let pinged = 0;
    for (const [item, at] of this.since) {
      if (now - at < this.options.everyMs) continue;
      this.options.ping(item);
      this.since.set(item, now);
      pinged++;
    }
    return pinged;
  }
}
