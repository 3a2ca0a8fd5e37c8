import {
  type AckBatch,
  type AckedMessage,
  type AckReceipt,
  isValidUserId,
  type Subjects,
  userToken,
} from "@herald/protocol";
import {
  type Counter,
  endSpan,
  type HandlerGuard,
  type Logger,
  reportFailure,
  type Span,
  SpanKind,
  sleep,
  startSpan,
  traceHeaders,
  withSpan,
} from "@herald/service-kit";
import type { Consumer, ConsumerMessages, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { readAckBundle } from "./ack-bundle.js";
import { applyAcks, skipVanished } from "./cursor.js";
import type { CursorStore } from "./cursor-store.js";
import { readStored } from "./mailbox-reader.js";

export type AckProcessorDeps = {
  nc: NatsConnection;
  jsm: JetStreamManager;
  s: Subjects;
  store: CursorStore;
  logger: Logger;
  acksApplied: Counter;
  guard: HandlerGuard;
  /** Receipts published (one per applied ack). */
  receipts?: Counter;
  /** How long acks gather before one round of cursor writes (a group commit). */
  gatherMs?: number;
};

type Group = { userId: string; deviceId: string; acks: AckedMessage[]; msgs: Set<JsMsg> };

/** Cursor writes in flight at once. */
const WRITE_CONCURRENCY = 128;

/**
 * Applies client acks from the ack work queue to device cursors, as a group commit: acks that arrive within
 * `gatherMs` are merged per device into one compare-and-set, and each queue message (a connector's bundle of
 * many devices' acks) is acked only once every cursor it touches is written.
 */
export class AckProcessor {
  private messages: ConsumerMessages | undefined;
  private queue: JsMsg[] = [];
  private running: Promise<void> | undefined;
  private readonly encoder = new TextEncoder();

  constructor(private readonly deps: AckProcessorDeps) {}

  async start(consumer: Consumer, prefetch: number): Promise<void> {
    this.messages = await consumer.consume({ max_messages: prefetch });
    const messages = this.messages;
    (async () => {
      for await (const msg of messages) {
        this.queue.push(msg);
        this.kick();
      }
    })().catch((err: unknown) => this.deps.logger.error({ err }, "ack consumer stopped"));
  }

  /** Stops taking acks and waits for the ones in hand to be applied. */
  async stop(): Promise<void> {
    await this.messages?.close();
    while (this.running) await this.running;
  }

  private kick(): void {
    if (this.running) return;
    this.running = this.drain()
      // Whatever went wrong, the messages not acked come back after ack_wait; the process must go on.
      .catch((err: unknown) => reportFailure(this.deps.guard, "ack.bundle", err))
      .finally(() => {
        this.running = undefined;
        if (this.queue.length > 0) this.kick();
      });
  }

  private async drain(): Promise<void> {
    const gatherMs = this.deps.gatherMs ?? 20;
    if (gatherMs > 0) await sleep(gatherMs);
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      const groups = new Map<string, Group>();
      const pendingGroups = new Map<JsMsg, number>();
      const failed = new Set<JsMsg>();
      for (const msg of batch) {
        const batches = this.validBatches(msg);
        if (!batches) continue;
        const keys = new Set<string>();
        for (const { userId, deviceId, acks } of batches) {
          const key = `${userId}\u0000${deviceId}`;
          let group = groups.get(key);
          if (!group) {
            group = { userId, deviceId, acks: [], msgs: new Set() };
            groups.set(key, group);
          }
          group.acks.push(...acks);
          group.msgs.add(msg);
          keys.add(key);
        }
        pendingGroups.set(msg, keys.size);
        if (keys.size === 0) this.settleMsg(() => msg.ack());
      }
      const settle = (group: Group, ok: boolean) => {
        for (const msg of group.msgs) {
          if (!ok) failed.add(msg);
          const left = (pendingGroups.get(msg) ?? 1) - 1;
          pendingGroups.set(msg, left);
          if (left > 0) continue;
          if (failed.has(msg)) this.settleMsg(() => msg.nak(1_000));
          else this.settleMsg(() => msg.ack());
        }
      };
      const work = [...groups.values()];
      const worker = async () => {
        for (let group = work.pop(); group; group = work.pop()) settle(group, await this.applyGroup(group));
      };
      await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, work.length) }, worker));
    }
  }

  /** An ack, nak or term on a closing connection throws: the message then comes back after ack_wait. */
  private settleMsg(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.deps.logger.warn({ err }, "could not settle an ack bundle");
    }
  }

  /**
   * The batches of a bundle with legal ids. A bundle that is not one is terminated (retrying cannot fix what it
   * contains); a batch with an illegal user or device id is left out, the others applied.
   */
  private validBatches(msg: JsMsg): AckBatch[] | undefined {
    const bundle = readAckBundle(safeJson(msg));
    if (!bundle) {
      this.deps.guard.errors.inc({ handler: "ack.bundle", code: "invalid_message" });
      this.deps.logger.warn({ subject: msg.subject }, "dropping malformed ack bundle");
      this.settleMsg(() => msg.term());
      return undefined;
    }
    const valid = bundle.batches.filter((b) => isValidUserId(b.userId) && isValidUserId(b.deviceId));
    if (valid.length < bundle.batches.length) {
      this.deps.guard.errors.inc({ handler: "ack.bundle", code: "invalid_user_id" });
      this.deps.logger.warn({ subject: msg.subject }, "ack batches with illegal ids left out");
    }
    return valid;
  }

  /** Writes one device's cursor and emits its receipts; false when the write failed (retried later). */
  private async applyGroup({ userId, deviceId, acks }: Group): Promise<boolean> {
    const spans = this.cursorSpans(acks, deviceId);
    try {
      const subject = this.deps.s.mailbox(userToken(userId));
      // Not async: the usual change (acks that close up to the floor) then costs no promise of its own.
      await this.deps.store.update(userId, deviceId, (state) => {
        const next = applyAcks(state, acks, Date.now());
        if (next.above.length === 0) return next;
        return skipVanished(next, (after) => this.nextSeqAfter(subject, after));
      });
      const ackedAt = Date.now();
      const receiptSubject = this.deps.s.receipt(userToken(userId));
      for (const [i, ack] of acks.entries()) {
        const receipt: AckReceipt = { type: "acked", id: ack.id, userId, deviceId, seq: ack.seq, ackedAt };
        // The receipt carries its cursor span's context: the backend continues the message's trace from it.
        const headers = traceHeaders(spans?.[i]);
        this.deps.nc.publish(
          receiptSubject,
          this.encoder.encode(JSON.stringify(receipt)),
          headers ? { headers } : undefined,
        );
      }
      this.deps.acksApplied.inc(acks.length);
      this.deps.receipts?.inc(acks.length);
      for (const span of spans ?? []) endSpan(span);
      return true;
    } catch (err) {
      for (const span of spans ?? []) endSpan(span, err);
      withSpan(spans?.find(Boolean), () =>
        this.deps.logger.warn({ err, userId, deviceId }, "cursor update failed; will retry"),
      );
      return false;
    }
  }

  /**
   * One span per traced ack for the cursor write that applies it (they share the write) and the receipt that
   * follows it; none untraced.
   */
  private cursorSpans(acks: AckedMessage[], deviceId: string): (Span | undefined)[] | undefined {
    if (!acks.some((ack) => ack.trace)) return undefined;
    return acks.map((ack) =>
      ack.trace
        ? startSpan("herald.persistence.cursor", ack.trace, SpanKind.CONSUMER, {
            "messaging.message.id": ack.id,
            "herald.seq": ack.seq,
            "herald.device_id": deviceId,
            "herald.acks_in_write": acks.length,
          })
        : undefined,
    );
  }

  /**
   * The user's next deliverable message after `after`. Invalid entries are never sent, so never acked: they
   * count as gone, or one would hold every device's floor below it for good.
   */
  private async nextSeqAfter(subject: string, after: number): Promise<number | undefined> {
    for (let position = after; ; ) {
      const msg = await this.deps.jsm.direct.getMessage(this.deps.s.streams.mailbox, {
        seq: position + 1,
        next_by_subj: subject,
      });
      if (!msg || readStored(msg).kind === "message") return msg?.seq;
      position = msg.seq;
    }
  }
}

function safeJson(msg: JsMsg): unknown {
  try {
    return msg.json();
  } catch {
    return undefined;
  }
}
