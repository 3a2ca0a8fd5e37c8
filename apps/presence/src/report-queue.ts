/** One connector's reports waiting, oldest first. */
type Lane<T> = { items: T[]; head: number };

/**
 * Applies connector reports in slices of at most `budgetMs` of event loop each, so that queries arriving
 * behind a burst of heartbeat parts (tens of thousands of connections per connector) are answered in between
 * instead of after all of it. Each connector (`key`: its report subject) has its own lane, kept in order;
 * lanes take turns one report at a time, so one connector's large heartbeat does not hold back another's
 * opens and closes (reports of different connectors have no order to keep: they come on different NATS
 * connections). Reports are decoded inside the slice too: parsing is most of their cost.
 *
 * @example
 * const queue = new ReportQueue<Msg>((msg) => apply(msg));
 * nc.subscribe(subject, { callback: (_err, msg) => queue.push(msg.subject, msg) });
 */
export class ReportQueue<T> {
  private readonly lanes = new Map<string, Lane<T>>();
  /** Keys of lanes with reports, in turn order. */
  private turns: string[] = [];
  private queued = 0;
  private scheduled = false;
  private stopped = false;

  constructor(
    private readonly apply: (item: T) => void,
    private readonly budgetMs = 2,
  ) {}

  push(key: string, item: T): void {
    if (this.stopped) return;
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { items: [], head: 0 };
      this.lanes.set(key, lane);
    }
    if (lane.head === lane.items.length) this.turns.push(key);
    lane.items.push(item);
    this.queued++;
    this.schedule();
  }

  /** Reports waiting to be applied. */
  get length(): number {
    return this.queued;
  }

  /** Applies everything queued now. */
  flush(): void {
    this.drain(Number.POSITIVE_INFINITY);
  }

  stop(): void {
    this.stopped = true;
    this.lanes.clear();
    this.turns = [];
    this.queued = 0;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.drain(this.budgetMs);
    });
  }

  private drain(budgetMs: number): void {
    const end = performance.now() + budgetMs;
    while (this.turns.length > 0) {
      const turns = this.turns;
      this.turns = [];
      let i = 0;
      for (; i < turns.length; i++) {
        const key = turns[i]!;
        const lane = this.lanes.get(key);
        if (!lane) continue;
        const item = lane.items[lane.head] as T;
        lane.items[lane.head++] = undefined as T;
        this.queued--;
        if (lane.head < lane.items.length) {
          this.turns.push(key);
          // A lane that never empties drops its applied prefix now and then.
          if (lane.head > 4096 && lane.head * 2 > lane.items.length) {
            lane.items = lane.items.slice(lane.head);
            lane.head = 0;
          }
        } else this.lanes.delete(key);
        this.apply(item);
        if (this.stopped) return;
        if (performance.now() >= end) {
          i++;
          break;
        }
      }
      // Lanes not served this round go first next time, ahead of those just served.
      if (i < turns.length) this.turns = [...turns.slice(i), ...this.turns];
      if (performance.now() >= end) break;
    }
    if (this.turns.length > 0) this.schedule();
  }
}
