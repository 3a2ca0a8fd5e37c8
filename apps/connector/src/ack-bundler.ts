import type { AckBatch } from "@herald/protocol";

export type AckBundlerOptions = {
  /** Writes one bundle durably; rejects when it could not. */
  publish: (batches: AckBatch[]) => Promise<void>;
  /** How long acks gather before a write. */
  delayMs: number;
  /** Acks in one bundle at most. */
  maxAcks: number;
};

type Pending = { batch: AckBatch; done: { resolve: () => void; reject: (err: unknown) => void } };

/**
 * Gathers the acks of every session on this connector for `delayMs` (or `maxAcks`) and writes them as one
 * bundle. Each caller's promise settles with the write that carried its acks.
 */
export class AckBundler {
  private pending: Pending[] = [];
  private pendingAcks = 0;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;

  constructor(private readonly options: AckBundlerOptions) {}

  add(batch: AckBatch): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ batch, done: { resolve, reject } });
      this.pendingAcks += batch.acks.length;
      if (this.pendingAcks >= this.options.maxAcks) this.flushSoon(0);
      else this.flushSoon(this.options.delayMs);
    });
  }

  /** Writes whatever is pending now (used on shutdown). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.writing || this.pending.length > 0) {
      if (!this.writing) this.writing = this.writeAll().finally(() => (this.writing = undefined));
      await this.writing;
    }
  }

  private flushSoon(delayMs: number): void {
    if (this.writing) return; // the running write picks the rest up when it finishes
    if (this.timer && delayMs > 0) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.writing) this.writing = this.writeAll().finally(() => (this.writing = undefined));
    }, delayMs);
  }

  private async writeAll(): Promise<void> {
    while (this.pending.length > 0) {
      const taken: Pending[] = [];
      let acks = 0;
      while (this.pending.length > 0 && acks < this.options.maxAcks) {
        const next = this.pending.shift()!;
        acks += next.batch.acks.length;
        taken.push(next);
      }
      this.pendingAcks -= acks;
      try {
        await this.options.publish(taken.map((p) => p.batch));
        for (const p of taken) p.done.resolve();
      } catch (err) {
        for (const p of taken) p.done.reject(err);
      }
    }
  }
}
