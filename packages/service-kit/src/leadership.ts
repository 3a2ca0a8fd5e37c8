import { type Backoff, sleepBackoff } from "./backoff.js";
import type { Lease } from "./lease.js";

/** What one term as leader is given: `lost` aborts when the lease is lost; `healthy` resets the back-off. */
export type LeaderTerm = { lost: AbortSignal; healthy: () => void };

/** How a term ended: the lease was lost (stand by at once), or the work failed (retry after a back-off). */
export type TermEnd = "lost" | "failed";

export type LeaderLoopOptions = {
  lease: Lease;
  /** Aborts when the service stops; the loop then ends. */
  signal: AbortSignal;
  /** Called each time the replica stands by, before it waits for the lease. */
  onStandby?: () => void;
  /** One term as leader; a throw counts as `failed` and is passed to `onError`. */
  term: (term: LeaderTerm) => Promise<TermEnd>;
  onError: (err: unknown) => void;
  /** The wait after a failed term: doubling while terms keep failing, reset by `healthy()`. */
  retry: Backoff;
};

/**
 * "Exactly one replica does X": starts the lease, then runs `term` whenever this replica holds it, until
 * `signal` aborts. A term that fails is retried after a back-off (while the lease is still held); one that
 * ends because the lease was lost goes straight back to standing by.
 */
export async function runLeaderLoop(options: LeaderLoopOptions): Promise<void> {
  const { lease, signal } = options;
  lease.start();
  for (let failures = 0; !signal.aborted; ) {
    options.onStandby?.();
    await lease.until(true, signal);
    if (signal.aborted) break;
    const end = await runTerm(options, () => {
      failures = 0;
    });
    if (signal.aborted) break;
    if (end === "lost") continue;
    await sleepBackoff(failures++, options.retry, signal);
  }
}

async function runTerm(options: LeaderLoopOptions, healthy: () => void): Promise<TermEnd> {
  const { lease, signal } = options;
  const lost = new AbortController();
  const over = new AbortController();
  void lease.until(false, AbortSignal.any([signal, over.signal])).then(() => {
    if (!signal.aborted && !over.signal.aborted) lost.abort();
  });
  try {
    return await options.term({ lost: lost.signal, healthy });
  } catch (err) {
    if (!signal.aborted) options.onError(err);
    return "failed";
  } finally {
    over.abort();
  }
}
