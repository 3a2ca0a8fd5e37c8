/** How a retry loop waits: doubling from `initialMs`, never more than `maxMs`. */
export type Backoff = { initialMs: number; maxMs: number };

/** The wait before retry number `attempt` (0 is the first retry). Never overflows: `2^1100` is capped. */
export function backoffMs(attempt: number, { initialMs, maxMs }: Backoff): number {
  return Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt));
}

/** Waits out the back-off for `attempt`; resolves early (without throwing) when `signal` aborts. */
export function sleepBackoff(attempt: number, backoff: Backoff, signal?: AbortSignal): Promise<void> {
  return sleep(backoffMs(attempt, backoff), signal);
}

/** A timer that an abort ends at once, so a draining service never waits out a retry. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Back-off sleeps that one event cuts short together: many retry loops wait on the same thing (a connector's
 * replays on persistence), and once it is known to be back (a request succeeded, NATS reconnected) none of them
 * should wait out the rest of a back-off that grew while it was away.
 *
 * @example
 * const retries = new WakeableSleeps();
 * await retries.sleep(attempt, { initialMs: 250, maxMs: 5_000 }); // elsewhere: retries.wakeAll()
 */
export class WakeableSleeps {
  #sleeping = new Set<() => void>();

  get sleeping(): number {
    return this.#sleeping.size;
  }

  sleep(attempt: number, backoff: Backoff): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#sleeping.delete(done);
        resolve();
      };
      const timer = setTimeout(done, backoffMs(attempt, backoff));
      this.#sleeping.add(done);
    });
  }

  /** Ends every sleep now; returns how many there were. */
  wakeAll(): number {
    const woken = [...this.#sleeping];
    for (const done of woken) done();
    return woken.length;
  }
}
