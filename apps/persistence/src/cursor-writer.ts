import type { AckedMessage } from "@herald/protocol";

/** A device's key among the groups (ids never hold a NUL: they are checked before they get here). */
const deviceKey = (userId: string, deviceId: string) => `${userId}\u0000${deviceId}`;

/** One device's acks waiting for a cursor write, and the queue messages (ack bundles) that carried them. */
export type CursorGroup<B> = {
  userId: string;
  deviceId: string;
  acks: AckedMessage[];
  bundles: Set<B>;
  /** When the group's first ack arrived (ms). */
  since: number;
};

export type CursorWriterOptions<B> = {
  /** How long a device's acks gather before its cursor is written. */
  delayMs: number;
  /** Shortest time between two rounds of writes, so a steady stream of acks does not set a timer per device. */
  roundMs: number;
  /** Writes in flight at once within a round. */
  concurrency: number;
  /** Writes one device's cursor; false when the write failed. Must not throw. */
  write: (group: CursorGroup<B>) => Promise<boolean>;
  /** Called once per group after its write. */
  written: (group: CursorGroup<B>, ok: boolean) => void;
  /** Whatever `write` or `written` threw; the group counts as not written. */
  onError: (err: unknown) => void;
  now?: () => number;
};

/**
 * Write-behind for device cursors. The acks are already durable (their bundle stays unacked in the ack stream
 * until every cursor it touches is written), so a cursor write can wait: a device's acks gather for `delayMs`
 * and become one compare-and-set. At a few messages a second per device that merges several acks per write,
 * where a write per ack cost more than the message's own store. Groups are kept in arrival order, so the ripe
 * ones are always a prefix.
 */
export class CursorWriter<B> {
  private pending = new Map<string, CursorGroup<B>>();
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private lastRound = 0;
  private readonly now: () => number;

  constructor(private readonly options: CursorWriterOptions<B>) {
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.pending.size;
  }

  /**
   * Adds one device's acks; the group they join keeps its first arrival time. True when `bundle` joined a group
   * it was not in yet: the caller counts the writes each bundle waits for.
   */
  add(userId: string, deviceId: string, acks: AckedMessage[], bundle: B): boolean {
    const key = deviceKey(userId, deviceId);
    let group = this.pending.get(key);
    if (!group) {
      group = { userId, deviceId, acks: [], bundles: new Set(), since: this.now() };
      this.pending.set(key, group);
    }
    for (const ack of acks) group.acks.push(ack);
    const before = group.bundles.size;
    group.bundles.add(bundle);
    this.schedule();
    return group.bundles.size > before;
  }

  /** Writes every group now, whatever its age, and waits for the writes in flight (shutdown). */
  async flush(): Promise<void> {
    this.clearTimer();
    while (this.round) await this.round;
    const all = [...this.pending.values()];
    this.pending.clear();
    await this.writeAll(all);
  }

  /** Writes the groups that have waited `delayMs`; exposed for tests, otherwise run by the timer. */
  async writeRipe(): Promise<void> {
    const deadline = this.now() - this.options.delayMs;
    const ripe: CursorGroup<B>[] = [];
    for (const [key, group] of this.pending) {
      if (group.since > deadline) break;
      ripe.push(group);
      this.pending.delete(key);
    }
    await this.writeAll(ripe);
  }

  private async writeAll(groups: CursorGroup<B>[]): Promise<void> {
    let next = 0;
    const worker = async () => {
      for (let group = groups[next++]; group; group = groups[next++]) await this.writeOne(group);
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency, groups.length) }, worker));
  }

  private async writeOne(group: CursorGroup<B>): Promise<void> {
    let ok = false;
    try {
      ok = await this.options.write(group);
    } catch (err) {
      this.options.onError(err);
    }
    try {
      this.options.written(group, ok);
    } catch (err) {
      this.options.onError(err);
    }
  }

  private schedule(): void {
    if (this.timer || this.round) return;
    const first = this.pending.values().next().value;
    if (!first) return;
    const at = Math.max(first.since + this.options.delayMs, this.lastRound + this.options.roundMs);
    this.timer = setTimeout(() => this.startRound(), Math.max(0, at - this.now()));
  }

  private startRound(): void {
    this.timer = undefined;
    this.lastRound = this.now();
    this.round = this.writeRipe().finally(() => {
      this.round = undefined;
      this.schedule();
    });
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
