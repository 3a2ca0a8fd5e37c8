/**
 * Applies connector reports in arrival order, in slices of at most `budgetMs` of event loop each, so that
 * queries arriving behind a burst of heartbeat parts (four connectors × tens of thousands of connections)
 * are answered in between instead of after all of it. Reports are decoded inside the slice too: parsing
 * them is most of their cost.
 *
 * @example
 * const queue = new ReportQueue<Msg>((msg) => apply(msg));
 * nc.subscribe(subject, { callback: (_err, msg) => queue.push(msg) });
 */
export class ReportQueue<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  private scheduled = false;
  private stopped = false;

  constructor(
    private readonly apply: (item: T) => void,
    private readonly budgetMs = 2,
  ) {}

  push(item: T): void {
    if (this.stopped) return;
    this.items.push(item);
    this.schedule();
  }

  /** Reports waiting to be applied. */
  get length(): number {
    return this.items.length - this.head;
  }

  /** Applies everything queued now (tests, and before answering what must be exact). */
  flush(): void {
    this.drain(Number.POSITIVE_INFINITY);
  }

  stop(): void {
    this.stopped = true;
    this.items = [];
    this.head = 0;
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
    while (this.head < this.items.length) {
      const item = this.items[this.head] as T;
      this.items[this.head++] = undefined;
      this.apply(item);
      if (performance.now() >= end) break;
    }
    if (this.head >= this.items.length) {
      this.items = [];
      this.head = 0;
    } else {
      // Drop the applied prefix now and then, so a long burst does not keep a large array of holes.
      if (this.head > 4096) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      this.schedule();
    }
  }
}
