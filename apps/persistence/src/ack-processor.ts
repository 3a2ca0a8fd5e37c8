import { type AckedMessage, ackBundleSchema, type Receipt, type Subjects, userToken } from "@herald/protocol";
import type { Counter, Logger } from "@herald/service-kit";
import type { Consumer, ConsumerMessages, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
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
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.queue.length > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    const gatherMs = this.deps.gatherMs ?? 20;
    if (gatherMs > 0) await new Promise((resolve) => setTimeout(resolve, gatherMs));
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      const groups = new Map<string, Group>();
      const pendingGroups = new Map<JsMsg, number>();
      const failed = new Set<JsMsg>();
      for (const msg of batch) {
        const parsed = ackBundleSchema.safeParse(safeJson(msg));
        if (!parsed.success) {
          this.deps.logger.warn({ subject: msg.subject }, "dropping malformed ack bundle");
          msg.term();
          continue;
        }
        const keys = new Set<string>();
        for (const { userId, deviceId, acks } of parsed.data.batches) {
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
      }
      const settle = (group: Group, ok: boolean) => {
        for (const msg of group.msgs) {
          if (!ok) failed.add(msg);
          const left = (pendingGroups.get(msg) ?? 1) - 1;
          pendingGroups.set(msg, left);
          if (left > 0) continue;
          if (failed.has(msg)) msg.nak(1_000);
          else msg.ack();
        }
      };
      const work = [...groups.values()];
      const worker = async () => {
        for (let group = work.pop(); group; group = work.pop()) settle(group, await this.applyGroup(group));
      };
      await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, work.length) }, worker));
    }
  }

  /** Writes one device's cursor and emits its receipts; false when the write failed (retried later). */
  private async applyGroup({ userId, deviceId, acks }: Group): Promise<boolean> {
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
      this.deps.acksApplied.inc(acks.length);
      return true;
    } catch (err) {
      this.deps.logger.warn({ err, userId, deviceId }, "cursor update failed; will retry");
      return false;
    }
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
