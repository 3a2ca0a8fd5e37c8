/**
 * Runs tasks one after another in arrival order, with at most `limit` unfinished at once. A task's
 * synchronous part (where the router issues its NATS writes) starts strictly in FIFO order, so writes reach
 * the server in intake order on one connection; only the waits for their PubAcks overlap.
 *
 * @example
 * const pipeline = new OrderedPipeline(64, (msg) => route(msg));
 * pipeline.push(msg);
 * await pipeline.idle();
 */
export class OrderedPipeline<T> {
  private readonly queue: T[] = [];
  private running = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly limit: number,
    private readonly run: (item: T) => Promise<void>,
  ) {}

  /** Items held: waiting plus running. */
  get size(): number {
    return this.queue.length + this.running;
  }

  push(item: T): void {
    this.queue.push(item);
    this.pump();
  }

  /** Resolves once nothing is waiting or running. */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (this.running < this.limit && this.queue.length > 0) {
      const item = this.queue.shift() as T;
      this.running++;
      let task: Promise<void>;
      try {
        task = this.run(item);
      } catch (err) {
        task = Promise.reject(err);
      }
      // `run` handles its own failures; a throw here is a bug and must not wedge the pipeline.
      task.catch(() => {}).finally(() => this.done());
    }
  }

  private done(): void {
    this.running--;
    this.pump();
    if (this.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }
}
