/**
 * Microseconds on the system-wide monotonic clock (CLOCK_MONOTONIC behind `process.hrtime`). Every process on
 * this machine reads the same clock, so a timestamp taken by the publisher can be subtracted from one taken
 * by a client process.
 */
export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What every benchmark message carries in `data`: phase, index, publish time (µs) and padding. */
export type BenchData = { ph: number; i: number; t: number; p: string };

/**
 * Padding that brings a message of `baseBytes` (measured with an empty pad) up to `targetBytes`.
 *
 * @example
 * padding(150, 200).length // 50
 */
export function padding(baseBytes: number, targetBytes: number): string {
  return "x".repeat(Math.max(0, targetBytes - baseBytes));
}
