/**
 * A token bucket: `rate` tokens per second, at most `burst` saved up.
 *
 * @example
 * const bucket = new TokenBucket(100, 200);
 * if (!bucket.take()) refuse();
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
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens < count) return false;
    this.tokens -= count;
    return true;
  }
}

/** One shared default clock: a default arrow here would be a new closure in every bucket. */
function monotonicNow(): number {
  return performance.now();
}
