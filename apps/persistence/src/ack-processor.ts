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
  startSpan,
  traceparentHeaders,
  withSpan,
} from "@herald/service-kit";
import type { Consumer, ConsumerMessages, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { readAckBundle } from "./ack-bundle.js";
import { applyAcks, skipVanished } from "./cursor.js";
import type { CursorStore } from "./cursor-store.js";
import { type CursorGroup, CursorWriter } from "./cursor-writer.js";
import { readStored } from "./mailbox-reader.js";

export type AckProcessorDeps = {
  nc: NatsConnection;
  jsm: JetStreamManager;
  s: Subjects;
  store: CursorStore;
  logger: Logger;
  acksApplied: Counter;
  guard: HandlerGuard;
  /** Receipts published (one per ack taken). */
  receipts?: Counter;
  /** How long a device's acks gather before its cursor is written (see `CursorWriter`). */
  cursorDelayMs: number;
};

/** Cursor writes in flight at once. */
const WRITE_CONCURRENCY = 128;
/** Shortest time between two rounds of cursor writes. */
const ROUND_MS = 20;

/**
 * Takes client acks from the ack work queue: publishes each ack's receipt at once, then hands the acks to the
 * cursor write-behind, which merges each device's acks of `cursorDelayMs` into one compare-and-set. A queue
 * message (a connector's bundle of many devices' acks) is acked only once every cursor it touches is written,
 * so until then the ack stream holds the acks: a replica that dies redelivers them, receipts included (the
 * contract says receipts come at least once).
 */
export class AckProcessor {
  private messages: ConsumerMessages | undefined;
  private consuming: Promise<void> | undefined;
  /** Per bundle taken: cursor groups not yet written, and whether one failed. */
  private readonly bundles = new Map<JsMsg, { left: number; failed: boolean }>();
  private readonly writer: CursorWriter<JsMsg>;

  constructor(private readonly deps: AckProcessorDeps) {
    this.writer = new CursorWriter<JsMsg>({
      delayMs: deps.cursorDelayMs,
      roundMs: ROUND_MS,
      concurrency: WRITE_CONCURRENCY,
      write: (group) => this.writeCursor(group),
      written: (group, ok) => this.written(group, ok),
      // Whatever went wrong, the bundles not acked come back after ack_wait; the process must go on.
      onError: (err) => reportFailure(this.deps.guard, "ack.bundle", err),
    });
  }

  async start(consumer: Consumer, prefetch: number): Promise<void> {
    this.messages = await consumer.consume({ max_messages: prefetch });
    const messages = this.messages;
    this.consuming = (async () => {
      for await (const msg of messages) this.take(msg);
    })().catch((err: unknown) => this.deps.logger.error({ err }, "ack consumer stopped"));
  }

  /** Stops taking acks and writes the cursors of the ones in hand. */
  async stop(): Promise<void> {
    await this.messages?.close();
    await this.consuming;
    await this.writer.flush();
  }

  /** One bundle: its receipts now, its acks to the cursor writes. Never throws (called per queue message). */
  private take(msg: JsMsg): void {
    try {
      const batches = this.validBatches(msg);
      if (!batches) return;
      // Counted as the groups are joined (no write runs before this returns).
      const state = { left: 0, failed: false };
      this.bundles.set(msg, state);
      const ackedAt = Date.now();
      for (const { userId, deviceId, acks } of batches) {
        this.sendReceipts(userId, deviceId, acks, ackedAt);
        if (this.writer.add(userId, deviceId, acks, msg)) state.left++;
      }
      if (state.left === 0) {
        this.bundles.delete(msg);
        this.settleMsg(() => msg.ack());
      }
    } catch (err) {
      // Left unacked, the bundle comes back after ack_wait; the groups it joined then leave it alone.
      this.bundles.delete(msg);
      reportFailure(this.deps.guard, "ack.bundle", err);
    }
  }

  /** Settles the bundles whose last group this was: acked, or redelivered after a second if a write failed. */
  private written(group: CursorGroup<JsMsg>, ok: boolean): void {
    for (const msg of group.bundles) {
      const state = this.bundles.get(msg);
      if (!state) continue;
      if (!ok) state.failed = true;
      if (--state.left > 0) continue;
      this.bundles.delete(msg);
      if (state.failed) this.settleMsg(() => msg.nak(1_000));
      else this.settleMsg(() => msg.ack());
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

  /**
   * Publishes one receipt per ack (the ack is durable in the ack stream already). A traced ack's receipt
   * carries the connector's deliver span on: the backend's own span then sits beside the cursor write's.
   */
  private sendReceipts(userId: string, deviceId: string, acks: AckedMessage[], ackedAt: number): void {
    const receiptSubject = this.deps.s.receipt(userToken(userId));
    for (const ack of acks) {
      const receipt: AckReceipt = { type: "acked", id: ack.id, userId, deviceId, seq: ack.seq, ackedAt };
      const headers = traceparentHeaders(ack.trace);
      this.deps.nc.publish(receiptSubject, JSON.stringify(receipt), headers ? { headers } : undefined);
    }
    this.deps.receipts?.inc(acks.length);
  }

  /** Writes one device's cursor; false when the write failed (the bundles come back and it is retried). */
  private async writeCursor({ userId, deviceId, acks }: CursorGroup<JsMsg>): Promise<boolean> {
    const spans = this.cursorSpans(acks, deviceId);
    try {
      const subject = this.deps.s.mailbox(userToken(userId));
      // Not async: the usual change (acks that close up to the floor) then costs no promise of its own.
      await this.deps.store.update(
        userId,
        deviceId,
        (state) => {
          const next = applyAcks(state, acks, Date.now());
          if (next.above.length === 0) return next;
          return skipVanished(next, (after) => this.nextSeqAfter(subject, after));
        },
        { keepErased: true },
      );
      this.deps.acksApplied.inc(acks.length);
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
   * One span per traced ack for the cursor write that applies it (acks of a device share the write); none
   * untraced.
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
