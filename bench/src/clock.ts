/**
 * Microseconds on the system-wide monotonic clock (CLOCK_MONOTONIC behind `process.hrtime`). Every process on
 * this machine reads the same clock, so a timestamp taken by the publisher can be subtracted from one taken
 * by a client process.
 */
export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * Microseconds since the epoch, for comparing with timestamps nats-server stamps on stored messages (wall
 * clock). Only differences of under a second between processes of this machine are taken from it.
 */
export function wallUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * What every benchmark message carries in `data`: phase, index, publish time (monotonic µs, and `w` on the wall
 * clock for the stage split) and padding.
 */
export type BenchData = { ph: number; i: number; t: number; w?: number; p: string };

/**
 * Padding that brings a message of `baseBytes` (measured with an empty pad) up to `targetBytes`.
 *
 * @example
 * padding(150, 200).length // 50
 */
export function padding(baseBytes: number, targetBytes: number): string {
  return "x".repeat(Math.max(0, targetBytes - baseBytes));
}
