import type { KV } from "@nats-io/kv";
import { isStreamNotFound, isWrongLastSequence } from "./js-errors.js";

export type LeaseOptions = {
  /** Opens (creating if needed) the bucket; called again when the bucket disappears. */
  open: () => Promise<KV>;
  key: string;
  /** This replica's id, written as the value while it holds the lease. */
  holderId: string;
  /** A holder that has not renewed for this long has lost the lease. */
  ttlMs: number;
  /** How often the holder renews and the others look. */
  renewMs: number;
  onChange: (held: boolean) => void;
  onError?: (err: unknown) => void;
  /** Asked before taking a free or expired lease (default: always): a replica holding its share declines. */
  mayAcquire?: () => boolean;
  /** Monotonic milliseconds. */
  now?: () => number;
};

/** The bucket is gone (deleted, or lost with a server's memory): open it again next round. */
function isMissing(err: unknown): boolean {
  if (isStreamNotFound(err)) return true;
  // A direct get on a deleted bucket finds no responder: the client says so in words only.
  const message = err instanceof Error ? err.message : String(err);
  return /no responders|not found/i.test(message);
}

/**
 * A leader lease on one KV key, for "exactly one replica does X". The holder renews with compare-and-set on
 * the key's revision; another replica takes over only after seeing the same revision unchanged for `ttlMs`
 * by its own clock, so no clocks are compared across machines. The holder considers itself leader only until
 * `ttlMs - renewMs` after its last successful renewal began, which ends before anyone else may take over.
 *
 * @example
 * const lease = new Lease({ open: () => kvm.create("leases"), key: "emitter", holderId: "p-1", ttlMs: 3000, renewMs: 1000, onChange });
 * lease.start();
 */
export class Lease {
  private kv: KV | undefined;
  private revision = 0;
  private validUntil = 0;
  private seenRevision = -1;
  private seenAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private heldBefore = false;
  private readonly waiters = new Set<() => void>();
  private readonly now: () => number;

  constructor(private readonly options: LeaseOptions) {
    this.now = options.now ?? (() => performance.now());
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.options.renewMs);
    void this.tick();
  }

  /** True once the bucket could be opened. */
  get hasBucket(): boolean {
    return this.kv !== undefined;
  }

  /** True while this replica may act as the leader. */
  held(): boolean {
    return this.now() < this.validUntil;
  }

  /**
   * Resolves once `held()` equals `held`, or `signal` aborts. Validity also ends by time alone (between
   * rounds), so it polls as well as listens.
   */
  until(held: boolean, signal: AbortSignal, pollMs = 100): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.held() !== held && !signal.aborted) return;
        clearInterval(timer);
        this.waiters.delete(check);
        signal.removeEventListener("abort", check);
        resolve();
      };
      const timer = setInterval(check, pollMs);
      this.waiters.add(check);
      signal.addEventListener("abort", check, { once: true });
      check();
    });
  }

  /** One round: renew if holding, otherwise look and take over when the holder is gone. */
  tick(): Promise<void> {
    if (!this.running) {
      this.running = this.round()
        .catch((err: unknown) => {
          if (isMissing(err)) this.kv = undefined;
          this.options.onError?.(err);
        })
        .finally(() => {
          this.running = undefined;
          this.notify();
        });
    }
    return this.running;
  }

  /** Stops renewing and, when holding, deletes the key so another replica takes over at once. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    const wasHeld = this.held();
    this.validUntil = 0;
    this.notify();
    if (wasHeld) {
      await this.kv?.delete(this.options.key, { previousSeq: this.revision }).catch(() => {});
    }
  }

  /**
   * Gives the lease up while staying in the running (unlike `stop`): stops counting as holder at once, waits
   * for `handOver` (the holder finishing its work), then deletes the key so a replica that wants the lease
   * takes it without waiting out the TTL. This one takes it again only when `mayAcquire` allows.
   */
  async release(handOver?: () => Promise<void>): Promise<void> {
    await this.running;
    if (!this.held()) return;
    this.validUntil = 0;
    this.notify();
    await handOver?.();
    // Fails its check, harmlessly, if the key changed meanwhile (another replica took an expired lease).
    await this.kv?.delete(this.options.key, { previousSeq: this.revision }).catch(() => {});
  }

  private async round(): Promise<void> {
    const { key, holderId, ttlMs, renewMs } = this.options;
    const started = this.now();
    this.kv ??= await this.options.open();
    const kv = this.kv;
    if (this.held()) {
      try {
        this.revision = await kv.update(key, holderId, this.revision);
        this.validUntil = started + ttlMs - renewMs;
      } catch (err) {
        if (isWrongLastSequence(err)) this.validUntil = 0;
        else throw err;
      }
      return;
    }
    const entry = await kv.get(key);
    if (entry?.operation !== "PUT") {
      if (this.options.mayAcquire?.() !== false) await this.acquire(() => kv.create(key, holderId), started);
      return;
    }
    if (entry.revision !== this.seenRevision) {
      this.seenRevision = entry.revision;
      this.seenAt = started;
      // Our own key from before a restart of the lease (same holder id): take it back at once.
      if (entry.string() !== holderId) return;
    } else if (started - this.seenAt < ttlMs) {
      return;
    }
    // Watched all along (above), so a replica allowed late takes over at once, not a TTL later.
    if (this.options.mayAcquire?.() === false) return;
    await this.acquire(() => kv.update(key, holderId, entry.revision), started);
  }

  private async acquire(write: () => Promise<number>, started: number): Promise<void> {
    try {
      this.revision = await write();
      this.validUntil = started + this.options.ttlMs - this.options.renewMs;
    } catch (err) {
      if (!isWrongLastSequence(err)) throw err;
    }
  }

  private notify(): void {
    const held = this.held();
    if (held !== this.heldBefore) {
      this.heldBefore = held;
      this.options.onChange(held);
      for (const waiter of [...this.waiters]) waiter();
    }
  }
}
