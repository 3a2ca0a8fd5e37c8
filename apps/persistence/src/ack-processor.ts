import { type AckBatch, ackBatchSchema, type Receipt, type Subjects, userToken } from "@herald/protocol";
import type { Counter, Logger } from "@herald/service-kit";
import type { Consumer, ConsumerMessages, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { applyAcks, skipVanished } from "./cursor.js";
import type { CursorStore } from "./cursor-store.js";

export type AckProcessorDeps = {
  nc: NatsConnection;
  jsm: JetStreamManager;
  s: Subjects;
  store: CursorStore;
  logger: Logger;
  acksApplied: Counter;
};

/**
 * Applies client acks from the ack work queue to device cursors. Messages are taken in batches; acks for the
 * same device are merged into one compare-and-set, and each queue message is acked only after its cursor write.
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
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.queue.length > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      const groups = new Map<
        string,
        { userId: string; deviceId: string; batches: AckBatch[]; msgs: JsMsg[] }
      >();
      for (const msg of batch) {
        const parsed = ackBatchSchema.safeParse(safeJson(msg));
        if (!parsed.success) {
          this.deps.logger.warn({ subject: msg.subject }, "dropping malformed ack batch");
          msg.term();
          continue;
        }
        const { userId, deviceId } = parsed.data;
        const key = JSON.stringify([userId, deviceId]);
        const group = groups.get(key) ?? { userId, deviceId, batches: [], msgs: [] };
        group.batches.push(parsed.data);
        group.msgs.push(msg);
        groups.set(key, group);
      }
      await Promise.all([...groups.values()].map((group) => this.applyGroup(group)));
    }
  }

  private async applyGroup(group: { userId: string; deviceId: string; batches: AckBatch[]; msgs: JsMsg[] }) {
    const { userId, deviceId } = group;
    const acks = group.batches.flatMap((b) => b.acks);
    try {
      const subject = this.deps.s.mailbox(userToken(userId));
      await this.deps.store.update(userId, deviceId, async (state) => {
        const next = applyAcks(state, acks, Date.now());
        if (next.above.length === 0) return next;
        return skipVanished(next, (after) => this.nextSeqAfter(subject, after));
      });
      const ackedAt = Date.now();
      const receiptSubject = this.deps.s.receipt(userToken(userId));
      for (const ack of acks) {
        const receipt: Receipt = { id: ack.id, userId, deviceId, seq: ack.seq, ackedAt };
        this.deps.nc.publish(receiptSubject, this.encoder.encode(JSON.stringify(receipt)));
      }
      for (const msg of group.msgs) msg.ack();
      this.deps.acksApplied.inc(acks.length);
    } catch (err) {
      this.deps.logger.warn({ err, userId, deviceId }, "cursor update failed; will retry");
      for (const msg of group.msgs) msg.nak(1_000);
    }
  }

  private async nextSeqAfter(subject: string, after: number): Promise<number | undefined> {
    const msg = await this.deps.jsm.direct.getMessage(this.deps.s.streams.mailbox, {
      seq: after + 1,
      next_by_subj: subject,
    });
    return msg?.seq;
  }
}

function safeJson(msg: JsMsg): unknown {
  try {
    return msg.json();
  } catch {
    return undefined;
  }
}
