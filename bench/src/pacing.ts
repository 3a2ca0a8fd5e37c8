import { sleep } from "./clock.js";

/**
 * Runs `publish(i)` for i in [0, n) with at most `window` unsettled at once; resolves when all settled.
 * Rejects on the first failure (after the ones in flight settle or not: the caller is failing anyway).
 *
 * @example
 * await windowed(100_000, 512, (i) => js.publish(`s.${i % 1000}`, body));
 */
export function windowed(n: number, window: number, publish: (i: number) => Promise<unknown>): Promise<void> {
  return new Promise((resolve, reject) => {
    if (n <= 0) {
      resolve();
      return;
    }
    let next = 0;
    let settled = 0;
    let failed = false;
    const pump = () => {
      while (!failed && next < n && next - settled < window) {
        const i = next++;
        publish(i).then(
          () => {
            settled++;
            if (settled === n) resolve();
            else pump();
          },
          (error: unknown) => {
            failed = true;
            reject(error);
          },
        );
      }
    };
    pump();
  });
}

/** How many of `rate` per second are due `elapsedMs` into a run, capped at `total`. */
export function dueCount(rate: number, elapsedMs: number, total: number): number {
  return Math.min(total, Math.floor((rate * elapsedMs) / 1000));
}

/**
 * Offers `rate` calls per second for `durationMs`: every ~1 ms it makes the calls that are due, so a late tick
 * catches up instead of lowering the offered rate. Returns the number of calls made (rate × duration).
 *
 * @example
 * await paced(5_000, 10_000, (i) => send(i));
 */
export async function paced(rate: number, durationMs: number, send: (i: number) => void): Promise<number> {
  const total = Math.round((rate * durationMs) / 1000);
  const start = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = dueCount(rate, performance.now() - start, total);
    while (sent < due) send(sent++);
    await sleep(1);
  }
  return sent;
}

/**
 * Opens a client per target, `concurrency` handshakes at a time (a real connect storm is not what the benchmarks
 * measure), handing each opened one to `opened`. A failure is counted, and the first one's message kept.
 */
export async function openInLanes<T, C>(
  targets: readonly T[],
  concurrency: number,
  open: (target: T) => Promise<C>,
  opened: (client: C) => void,
): Promise<{ failed: number; error?: string }> {
  let next = 0;
  let failed = 0;
  let firstError: string | undefined;
  const lane = async () => {
    while (next < targets.length) {
      const target = targets[next++];
      if (target === undefined) break;
      try {
        opened(await open(target));
      } catch (error) {
        failed++;
        firstError ??= String((error as Error)?.message ?? error);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return { failed, ...(firstError ? { error: firstError } : {}) };
}
