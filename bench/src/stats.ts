/** Latency percentiles in milliseconds. */
export type LatencySummary = {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
};

/**
 * Nearest-rank percentile of an ascending array: the smallest value with at least `p` % of the values at or
 * below it. NaN for an empty array.
 *
 * @example
 * percentile([1, 2, 3, 4], 50) // 2
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  if (p <= 0) return sorted[0] ?? Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, rank) - 1] ?? Number.NaN;
}

/**
 * Summarises latencies given in microseconds as milliseconds (3 decimals).
 *
 * @example
 * summarizeLatencies([1_000, 2_000]) // { count: 2, p50: 1, p90: 2, p99: 2, max: 2, mean: 1.5 }
 */
export function summarizeLatencies(micros: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(micros).sort();
  let sum = 0;
  for (const value of sorted) sum += value;
  const ms = (us: number) => Math.round(us) / 1000;
  return {
    count: sorted.length,
    p50: ms(percentile(sorted, 50)),
    p90: ms(percentile(sorted, 90)),
    p99: ms(percentile(sorted, 99)),
    max: ms(percentile(sorted, 100)),
    mean: sorted.length === 0 ? Number.NaN : ms(sum / sorted.length),
  };
}

/** Events per second, rounded; 0 when no time passed. */
export function perSecond(count: number, elapsedUs: number): number {
  return elapsedUs <= 0 ? 0 : Math.round((count * 1e6) / elapsedUs);
}

/** `a / b` rounded to 3 decimals, or null when either is missing or `b` is 0. */
export function ratio(a: number | undefined, b: number | undefined): number | null {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0)
    return null;
  return Math.round((a / b) * 1000) / 1000;
}
