import type { CursorState, ExpiredReceipt, Subjects } from "@herald/protocol";
import { userToken } from "@herald/protocol";
import type { Counter, Logger } from "@herald/service-kit";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { advance } from "./cursor.js";

/** What the mailbox holds, as the gap check needs it. */
export type MailboxLookups = {
  /** The first message the mailbox still holds (any user's): its sequence and store time (ms). */
  firstStored: () => Promise<{ seq: number; time: number } | undefined>;
  /** The mailbox's last sequence (0 when nothing was ever stored). */
  lastSeq: () => Promise<number>;
  /** The first message stored on `subject` (one user's) after `seq`. */
  nextOwnAfter: (subject: string, seq: number) => Promise<number | undefined>;
};

/**
 * Unacked messages of one device that retention removed: those of its user in (after, before), `before`
 * undefined when the mailbox is empty. `floor` is where the device's cursor may now stand: nothing of the user
 * up to it is stored unacked any more.
 */
export type Gap = { after: number; before?: number; floor: number };

/**
 * Whether retention removed messages this device had not acked. Removal takes the stream's oldest messages
 * first, so when the mailbox still holds the message right after the device's floor nothing it needs is gone.
 * Otherwise the removed range (floor, first held) may have held this user's messages: stream sequences are
 * shared by all users, so the count is unknown and some of that range may have been other users'. A device
 * never seen before, or one that registered after everything removed was stored, has lost nothing.
 */
export async function findGap(
  cursor: CursorState,
  subject: string,
  lookups: MailboxLookups,
): Promise<Gap | undefined> {
  if (cursor.updatedAt === 0) return undefined;
  const after = cursor.floor;
  const first = await lookups.firstStored();
  if (first && first.seq <= after + 1) return undefined;
  // A device that never acked: `updatedAt` is when it registered; what was removed was stored before `first`.
  if (first && after === 0 && cursor.above.length === 0 && cursor.updatedAt >= first.time) return undefined;
  // Read in this order, so a message stored in between is never stepped over: last, then the user's next.
  const last = await lookups.lastSeq();
  if (last <= after) return undefined;
  const next = await lookups.nextOwnAfter(subject, after);
  const floor = next === undefined ? last : next - 1;
  return first ? { after, before: first.seq, floor } : { after, floor };
}

/** The cursor once a gap was told: the floor over the removed range, so the same gap is not told again. */
export function pastGap(state: CursorState, gap: Gap, now: number): CursorState {
  if (state.floor >= gap.floor) return state;
  return advance({
    floor: gap.floor,
    above: state.above.filter(([seq]) => seq > gap.floor),
    updatedAt: now,
  });
}

/**
 * Direct gets on the mailbox stream (served by any replica) and its info for the last sequence. Every connect
 * asks for the first stored message, the same answer for all: pages asking while one lookup is out share it
 * (it may predate a page by one round trip, as any read before the page's own reads does).
 */
export function mailboxLookups(jsm: JetStreamManager, s: Subjects): MailboxLookups {
  const stream = s.streams.mailbox;
  let first: Promise<{ seq: number; time: number } | undefined> | undefined;
  const lookUpFirst = async () => {
    const stored = await jsm.direct.getMessage(stream, { seq: 1, next_by_subj: s.mailboxAll });
    return stored ? { seq: stored.seq, time: stored.time.getTime() } : undefined;
  };
  return {
    firstStored: () => {
      first ??= lookUpFirst().finally(() => {
        first = undefined;
      });
      return first;
    },
    lastSeq: async () => (await jsm.streams.info(stream)).state.last_seq,
    nextOwnAfter: async (subject, seq) =>
      (await jsm.direct.getMessage(stream, { seq: seq + 1, next_by_subj: subject }))?.seq,
  };
}

export type GapNotice = (userId: string, deviceId: string, gap: Gap) => void;

/** Counts each gap told and sends the publisher an `expired` receipt for it (no ids: they went with the messages). */
export function gapNotice(nc: NatsConnection, s: Subjects, gaps: Counter, logger: Logger): GapNotice {
  return (userId, deviceId, gap) => {
    gaps.inc();
    const receipt: ExpiredReceipt = {
      type: "expired",
      reason: "retention",
      userId,
      deviceId,
      after: gap.after,
      ...(gap.before === undefined ? {} : { before: gap.before }),
      at: Date.now(),
    };
    logger.warn({ userId, deviceId, after: gap.after, before: gap.before }, "unacked messages expired");
    nc.publish(s.receipt(userToken(userId)), JSON.stringify(receipt));
  };
}
