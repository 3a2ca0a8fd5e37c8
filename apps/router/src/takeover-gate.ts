import { sleep } from "@herald/service-kit";

/** What the gate needs of the shared consumer, read in one consumer info call. */
export type ConsumerCounts = {
  /** Delivered and not yet acked (`num_ack_pending`). */
  unacked: number;
  /** The highest stream sequence ever delivered (`delivered.stream_seq`). */
  deliveredSeq: number;
  /** Deliveries made by this consumer so far, redeliveries included (`delivered.consumer_seq`). */
  deliveries: number;
};

export type TakeoverGateOptions<T> = {
  seqOf: (item: T) => number;
  /** Routes one item; called in stream order. */
  forward: (item: T) => void;
  counts: () => Promise<ConsumerCounts>;
  /** Resets an item's ack timer, so what the gate holds is not redelivered meanwhile. */
  keepAlive: (item: T) => void;
  /** Gives an item back to the stream at once (the gate closed without routing it). */
  handBack: (item: T) => void;
  /** The consumer's counts read when this leader took over, before it began consuming. */
  atTakeover: ConsumerCounts;
  pollMs: number;
  keepAliveMs: number;
  /** Routes what it has after this long even if something inherited is still missing. */
  deadlineMs: number;
  now?: () => number;
};

export type GatherOutcome =
  | { kind: "complete" | "deadline"; inherited: number; newer: number; missing: number; waitedMs: number }
  | { kind: "aborted"; handedBack: number };

/**
 * Keeps intake order across a change of leader. What a dead leader left unacked comes back in the order
 * it expires, not in stream order (nats-server redelivers by expiry; a message the dead leader nak'd
 * with a delay expires after a later one it only held), and the new leader would route whatever comes
 * first. So a new leader holds everything it receives until every message delivered before it took over
 * (stream sequence ≤ the consumer's delivered sequence then) is either in its hands or acked by the old
 * leader, and then routes all of it sorted by stream sequence.
 *
 * Completeness comes from the consumer's counts: while gathering nothing is acked, so what was unacked when
 * the consumer was counted, less the distinct messages of the deliveries it had made to us by then, is still
 * out of our hands from before. Counted by deliveries, not by stream sequences: a lane's consumer reads part
 * of the stream, so sequences after the takeover are mostly other lanes'. (A message
 * deleted meanwhile, by a purge or `max_age`, would make the count short and end the gathering early.)
 *
 * @example
 * const gate = new TakeoverGate({ seqOf: (m) => m.info.streamSequence, forward: (m) => pipeline.push(m), ... });
 * consumer.consume({ callback: (m) => gate.accept(m) });
 * await gate.gather(signal);
 */
export class TakeoverGate<T> {
  private state: "gathering" | "open" | "closed" = "gathering";
  private readonly held = new Map<number, T>();
  private inheritedInHand = 0;
  /** The sequence of each delivery that reached `accept` while gathering, in arrival order. */
  private readonly arrivals: number[] = [];
  private readonly takeoverSeq: number;
  private readonly now: () => number;

  constructor(private readonly options: TakeoverGateOptions<T>) {
    this.now = options.now ?? (() => performance.now());
    this.takeoverSeq = options.atTakeover.deliveredSeq;
  }

  get gathering(): boolean {
    return this.state === "gathering";
  }

  accept(item: T): void {
    if (this.state === "open") {
      this.options.forward(item);
      return;
    }
    if (this.state === "closed") {
      this.options.handBack(item);
      return;
    }
    const seq = this.options.seqOf(item);
    this.arrivals.push(seq);
    // A second delivery of a held sequence replaces the first: acking either settles it.
    if (!this.held.has(seq) && seq <= this.takeoverSeq) this.inheritedInHand++;
    this.held.set(seq, item);
  }

  /**
   * Gathers until everything inherited is in hand (or the deadline passes), then routes it all in stream
   * order and lets later items straight through. When `signal` aborts first, hands back what it holds and
   * everything accepted later.
   */
  async gather(signal: AbortSignal): Promise<GatherOutcome> {
    const { pollMs, keepAliveMs, deadlineMs, atTakeover } = this.options;
    const started = this.now();
    if (atTakeover.unacked === 0) return this.open("complete", 0, started);
    let keptAliveAt = started;
    let missing = atTakeover.unacked;
    while (!signal.aborted) {
      const counts = await this.options.counts().catch(() => undefined);
      if (signal.aborted) break;
      const inHand = counts && this.inHandWhenCounted(counts.deliveries - atTakeover.deliveries);
      if (counts && inHand !== undefined) {
        missing = counts.unacked - inHand;
        if (missing <= 0) return this.open("complete", 0, started);
      }
      if (this.now() - started >= deadlineMs) return this.open("deadline", missing, started);
      if (this.now() - keptAliveAt >= keepAliveMs) {
        keptAliveAt = this.now();
        for (const item of this.held.values()) this.options.keepAlive(item);
      }
      await sleep(pollMs, signal);
    }
    this.state = "closed";
    const handedBack = this.held.size;
    for (const item of this.sorted()) this.options.handBack(item);
    this.held.clear();
    this.arrivals.length = 0;
    return { kind: "aborted", handedBack };
  }

  /**
   * How many of the messages unacked when the consumer was counted are in our hands: the distinct sequences
   * of its first `delivered` deliveries to us (they arrive in order). Undefined while some of those are still
   * on their way, as one may be an inherited message.
   */
  private inHandWhenCounted(delivered: number): number | undefined {
    if (this.arrivals.length < delivered) return undefined;
    return new Set(this.arrivals.slice(0, Math.max(0, delivered))).size;
  }

  private open(kind: "complete" | "deadline", missing: number, started: number): GatherOutcome {
    const items = this.sorted();
    const inherited = this.inheritedInHand;
    this.held.clear();
    this.arrivals.length = 0;
    this.state = "open";
    for (const item of items) this.options.forward(item);
    return { kind, inherited, newer: items.length - inherited, missing, waitedMs: this.now() - started };
  }

  private sorted(): T[] {
    return [...this.held.entries()].sort(([a], [b]) => a - b).map(([, item]) => item);
  }
}
