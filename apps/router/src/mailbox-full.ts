import {
  DeadReason,
  type ExpiredReceipt,
  Header,
  headerSafe,
  type Subjects,
  userIdFromToken,
} from "@herald/protocol";
import { type Counter, isSubjectFull, type JsPublisher } from "@herald/service-kit";
import type { PubAck } from "@nats-io/jetstream";
import { headers, type NatsConnection } from "@nats-io/transport-node";

/** A write refused because the user's mailbox holds `HERALD_MAX_BACKLOG` messages (`discard_new_per_subject`). */
export const isMailboxFull = isSubjectFull;

export type MailboxFullDeps = {
  nc: NatsConnection;
  publisher: JsPublisher;
  s: Subjects;
  /** Counts refused copies. */
  refused: Counter;
};

/** The copy a full mailbox refused: the user's token (`key`), the message id and body, the intake message's id. */
export type RefusedCopy = { key: string; id: string; body: Uint8Array; fallbackId: string };

/**
 * A `send.users` copy refused by a full mailbox is not retried (it would be refused until messages expire):
 * it is dead-lettered with reason `mailbox_full` and original subject `send.user.<token>`, so `herald dead
 * replay` can send it to that user later, and the publisher hears it on the user's receipt subject. Any other
 * error is rethrown.
 */
export type MailboxFullHandler = (err: unknown, copy: RefusedCopy) => Promise<PubAck>;

export function mailboxFullHandler(deps: MailboxFullDeps): MailboxFullHandler {
  return async (err: unknown, copy: RefusedCopy): Promise<PubAck> => {
    if (!isMailboxFull(err)) throw err;
    const userId = userIdFromToken(copy.key);
    const h = headers();
    h.set(Header.DeadReason, headerSafe(`the mailbox of ${userId} is full (HERALD_MAX_BACKLOG)`));
    h.set(Header.DeadSubject, deps.s.sendUser(copy.key));
    const ack = await deps.publisher.publish(deps.s.dead(DeadReason.MailboxFull), copy.body, {
      headers: h,
      msgID: `dead/${DeadReason.MailboxFull}/${copy.fallbackId}/${copy.key}`,
    });
    // A retry after a crash finds the letter stored; the receipt goes again (receipts are at least once).
    if (!ack.duplicate) deps.refused.inc();
    const receipt: ExpiredReceipt = {
      type: "expired",
      reason: "mailbox_full",
      id: copy.id,
      userId,
      at: Date.now(),
    };
    deps.nc.publish(deps.s.receipt(copy.key), JSON.stringify(receipt));
    return ack;
  };
}
