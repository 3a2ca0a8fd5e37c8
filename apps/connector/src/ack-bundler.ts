/** Told when the bundle carrying a batch is stored, or could not be (tracing ends its spans here). */
export type AckReceipt = { stored(): void; failed(err: unknown): void };

export type AckBundlerOptions = {
  /** Writes one bundle (the batches as JSON texts) durably; rejects when it could not. */
  publish: (batches: string[], acks: number) => Promise<void>;
  /** How long acks gather before a write. */
  delayMs: number;
  /** Acks in one bundle at most. */
  maxAcks: number;
};

/**
 * A batch waiting for its bundle: its JSON text and count, not the objects it was made of. Under load a
 * batch waits longer than the young generation's collections, and objects that wait that long die in the old
 * generation; one string does not add up to much.
 */
type Pending = { json: string; acks: number; receipt: AckReceipt | undefined };

/**
 * Gathers the acks of every session on this connector for `delayMs` (or `maxAcks`) and writes them as one
 * bundle; each batch's receipt hears how the write that carried it went.
 */
export class AckBundler {
  private pending: Pending[] = [];
  private pendingAcks = 0;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<unknown> | undefined;

  constructor(private readonly options: AckBundlerOptions) {}

  /** `json`: one `AckBatch` as JSON, carrying `acks` acks. */
  add(json: string, acks: number, receipt?: AckReceipt): void {
    this.pending.push({ json, acks, receipt });
    this.pendingAcks += acks;
    this.flushSoon(this.pendingAcks >= this.options.maxAcks ? 0 : this.options.delayMs);
  }

  /** Writes whatever is pending now (used on shutdown); rejects if a write failed. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    let failure: unknown;
    while (this.writing || this.pending.length > 0) {
      if (!this.writing) this.writing = this.writeAll().finally(() => (this.writing = undefined));
      failure = (await this.writing) ?? failure;
    }
    if (failure !== undefined) throw failure;
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

  /** Writes bundles until nothing is pending; resolves with the last failure, if any (receipts heard it). */
  private async writeAll(): Promise<unknown> {
    let failure: unknown;
    while (this.pending.length > 0) {
      let count = 0;
      let end = 0;
      while (end < this.pending.length && count < this.options.maxAcks)
        count += this.pending[end++]?.acks ?? 0;
      const taken = this.pending.splice(0, end);
      this.pendingAcks -= count;
      try {
        await this.options.publish(
          taken.map((p) => p.json),
          count,
        );
        for (const p of taken) p.receipt?.stored();
      } catch (err) {
        failure = err;
        for (const p of taken) p.receipt?.failed(err);
      }
    }
    return failure;
  }
}
