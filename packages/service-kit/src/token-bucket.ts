/**
 * A token bucket: `rate` tokens per second, at most `burst` saved up. One per connection in the connector, so
 * it holds three numbers and no closure of its own.
 *
 * @example
 * const bucket = new TokenBucket(100, 200);
 * if (!bucket.take()) refuse(bucket.msUntil(1));
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number = monotonicNow,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  take(count = 1): boolean {
    this.refill();
    if (this.tokens < count) return false;
    this.tokens -= count;
    return true;
  }

  /**
   * Reserves one token even when none is saved up, so callers wait their turn in arrival order instead of being
   * refused: returns the milliseconds until the reserved token is due (0: now), or undefined, reserving nothing,
   * when that would be later than `maxWaitMs`.
   *
   * @example
   * const waitMs = bucket.reserve(2_000);
   * if (waitMs === undefined) refuse(); else setTimeout(admit, waitMs);
   */
  reserve(maxWaitMs: number): number | undefined {
    this.refill();
    const waitMs = this.tokens >= 1 ? 0 : ((1 - this.tokens) / this.rate) * 1000;
    if (waitMs > maxWaitMs) return undefined;
    this.tokens -= 1;
    return waitMs;
  }

  /** Milliseconds until `count` tokens are saved up (0 when they are now; never for more than `burst`). */
  msUntil(count = 1): number {
    this.refill();
    if (count > this.burst) return Number.POSITIVE_INFINITY;
    return this.tokens >= count ? 0 : ((count - this.tokens) / this.rate) * 1000;
  }

  /** True once the bucket is back to `burst`: forgetting it then changes nothing. */
  full(): boolean {
    this.refill();
    return this.tokens >= this.burst;
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
  }
}

/**
 * One token bucket per key (an API key, a JWT subject), each `rate`/s with `burst`; buckets that are full again are
 * dropped when the map grows past `maxKeys`, so keys that come and go do not pile up.
 */
export class KeyedRateLimit {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly maxKeys = 10_000,
    private readonly now: () => number = monotonicNow,
  ) {}

  /** 0 when `key` may go now (a token is taken), otherwise the milliseconds until it may. */
  take(key: string): number {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= this.maxKeys) this.sweep();
      bucket = new TokenBucket(this.rate, this.burst, this.now);
      this.buckets.set(key, bucket);
    }
    return bucket.take() ? 0 : bucket.msUntil(1);
  }

  get size(): number {
    return this.buckets.size;
  }

  private sweep(): void {
    for (const [key, bucket] of this.buckets) if (bucket.full()) this.buckets.delete(key);
  }
}

/** One shared default clock: a default arrow would be a new closure in every bucket. */
function monotonicNow(): number {
  return performance.now();
}
