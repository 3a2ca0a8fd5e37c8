/** What a sweep walks: a live collection (a `Set` keeps insertion order and may change while it is walked). */
export type Sweepable<T> = { readonly size: number; values(): IterableIterator<T> };

/**
 * Visits every item of a changing collection once per period, a slice at each tick, so that work per socket
 * (a ping is a write to each one) never holds the event loop for the whole collection at once: at 1,000
 * connections one pass over them all held the connector for 30 ms every ping interval, and the messages that
 * arrived meanwhile waited (bench/README.md, "Keep-alive pings in slices"). A round starts at most once per
 * period and walks the collection in its order, so each item is visited about one period after the last time;
 * items added during a round are visited in it, removed ones are skipped.
 */
export class PacedSweep<T> {
  private round: Iterator<T> | undefined;
  private roundStartedAt = Number.NEGATIVE_INFINITY;
  /** How often `tick` is meant to be called: the tick asked for, at most the period. */
  readonly tickMs: number;

  constructor(
    private readonly items: Sweepable<T>,
    private readonly periodMs: number,
    tickMs: number,
    private readonly visit: (item: T) => void,
  ) {
    this.tickMs = Math.min(tickMs, periodMs);
  }

  /** Visits this tick's share (the collection's size × tick ÷ period, at least one); returns how many. */
  tick(now = performance.now()): number {
    const quota = Math.max(1, Math.ceil((this.items.size * this.tickMs) / this.periodMs));
    let visited = 0;
    while (visited < quota) {
      if (!this.round) {
        // A round just started and already done (an empty collection) stops here too.
        if (now - this.roundStartedAt < this.periodMs) break;
        this.round = this.items.values();
        this.roundStartedAt = now;
      }
      const next = this.round.next();
      if (next.done) {
        this.round = undefined;
        continue;
      }
      visited++;
      this.visit(next.value);
    }
    return visited;
  }
}
