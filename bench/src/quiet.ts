import { sleep } from "./clock.js";
import { machineBusySeconds } from "./procfs.js";

export type QuietWait = { waitedMs: number; busyCores: number; quiet: boolean };

/**
 * Waits until the machine's busy CPU over one-second samples is below `maxBusyCores` (nothing of this
 * benchmark runs between parts, so that is other work), for at most `maxWaitMs`. On a shared machine this
 * keeps other people's test runs out of the figures where it can; the result says how quiet it was.
 *
 * @example
 * const wait = await waitForQuiet(30_000, 0.5);
 */
export async function waitForQuiet(maxWaitMs: number, maxBusyCores: number): Promise<QuietWait> {
  const start = Date.now();
  let busyCores = Number.POSITIVE_INFINITY;
  for (;;) {
    const before = await machineBusySeconds();
    await sleep(1_000);
    busyCores = Math.round(((await machineBusySeconds()) - before) * 100) / 100;
    const waitedMs = Date.now() - start;
    if (busyCores < maxBusyCores) return { waitedMs, busyCores, quiet: true };
    if (waitedMs >= maxWaitMs) return { waitedMs, busyCores, quiet: false };
  }
}
