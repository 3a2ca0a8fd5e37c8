export interface BackoffOptions {
  /** Upper bound of the first delay, in milliseconds. */
  initialDelayMs: number;
  /** No delay is ever longer than this, in milliseconds. */
  maxDelayMs: number;
}

/**
 * "Full jitter" exponential backoff: a uniform random delay in `[0, min(max, initial * 2^attempt))`.
 * Spreading every client over the whole window is what keeps a fleet from reconnecting in lockstep after a
 * server restart (see the AWS Architecture Blog, "Exponential Backoff And Jitter").
 *
 * @param attempt 0 for the first retry after a failure, then 1, 2, ...
 * @param random returns a number in `[0, 1)`; injectable so tests are deterministic.
 * @example
 * backoffDelay(3, { initialDelayMs: 500, maxDelayMs: 30_000 }) // somewhere in [0, 4000)
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  return Math.floor(random() * backoffCeiling(attempt, options));
}

/** The exclusive upper bound of `backoffDelay(attempt)`. Never overflows: `2^1100` is Infinity, then capped. */
export function backoffCeiling(attempt: number, { initialDelayMs, maxDelayMs }: BackoffOptions): number {
  return Math.min(maxDelayMs, initialDelayMs * 2 ** Math.max(0, attempt));
}
