import {
  Header,
  headerSafe,
  type InvalidEntry,
  type MailboxRead,
  readMailboxEntry,
  type Subjects,
} from "@herald/protocol";
import type { JsPublisher } from "@herald/service-kit";
import type { StoredMsg } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";

/** A stored mailbox message read through the one mailbox parser (`@herald/protocol`). */
export function readStored(stored: StoredMsg): MailboxRead {
  return readMailboxEntry({
    payload: stored.data,
    seq: stored.seq,
    storedAtMs: stored.time.getTime(),
    msgId: stored.header?.get(Header.MsgId) || undefined,
  });
}

/** Publishes an invalid mailbox entry to the dead-letter stream (once per entry: its msgID is its seq). */
export type DeadLetter = (stored: StoredMsg, invalid: InvalidEntry) => Promise<void>;

/**
 * Dead-letters entries that no device can be sent. Single-user publishes are stored before anyone checks
 * them, so they are checked when read: the first replay that meets one writes it here, with its reason, and
 * skips it. The original subject is the publish subject it was sent to (`<p>.send.user.<token>`).
 */
export function deadLetterer(
  publisher: JsPublisher,
  s: Subjects,
  stream: string,
  onDead: (reason: string) => void,
): DeadLetter {
  return async (stored, invalid) => {
    const h = headers();
    h.set(Header.DeadReason, headerSafe(invalid.message));
    h.set(Header.DeadSubject, s.sendUser(stored.subject.slice(s.mailboxPrefix.length)));
    const ack = await publisher.publish(s.dead(invalid.reason), stored.data, {
      headers: h,
      msgID: `dead/${stream}/${stored.seq}`,
    });
    if (!ack.duplicate) onDead(invalid.reason);
  };
}
