import {
  assertUserId,
  type ReplayMessage,
  type ReplayReply,
  replayRequestSchema,
  type Subjects,
  userToken,
} from "@herald/protocol";
import { parseRequest, traceparentHeader } from "@herald/service-kit";
import type { JetStreamManager } from "@nats-io/jetstream";
import { ackedAbove } from "./cursor.js";
import type { CursorStore } from "./cursor-store.js";
import { findGap, type GapNotice, type MailboxLookups, pastGap } from "./gap-check.js";
import { type DeadLetter, readStored } from "./mailbox-reader.js";
import { ENTRY_OVERHEAD_BYTES, type PageLimits, unsendable } from "./page.js";

export type ReplayDeps = {
  jsm: JetStreamManager;
  s: Subjects;
  store: CursorStore;
  limits: PageLimits;
  deadLetter: DeadLetter;
  /** Where a connect's first page looks for unacked messages retention removed, and who hears of them. */
  gaps: { lookups: MailboxLookups; notice: GapNotice };
};

/**
 * One page of what a device has not acked: the user's mailbox walked with direct gets from `after` (or the
 * device's cursor floor), skipping messages the device acked above its floor, and dead-lettering (then
 * skipping) entries that are not valid messages. A message's `prev` is the user's previous stored sequence
 * (valid or not), as RePublish's `Nats-Last-Sequence` says live; cursors step over invalid ones (`cursor.ts`).
 * A page stops before the message that would take it past `maxBytes` or the reply budget (whichever is
 * smaller), so it always fits one NATS message. A connect's first page also says when retention removed
 * messages the device had not acked (`gap-check.ts`); the cursor then moves past them, so it is said once.
 */
export async function replayPage(deps: ReplayDeps, input: unknown): Promise<ReplayReply> {
  const request = parseRequest(replayRequestSchema, input);
  for (const id of [request.userId, request.deviceId]) assertUserId(id);
  const subject = deps.s.mailbox(userToken(request.userId));
  let cursor = await deps.store.read(request.userId, request.deviceId);
  if (request.after === undefined && cursor.updatedAt === 0)
    await deps.store.ensure(request.userId, request.deviceId);
  const gap = request.after === undefined ? await findGap(cursor, subject, deps.gaps.lookups) : undefined;
  if (gap) {
    cursor = await deps.store.update(request.userId, request.deviceId, (state) =>
      pastGap(state, gap, Date.now()),
    );
    deps.gaps.notice(request.userId, request.deviceId, gap);
  }
  const skip = ackedAbove(cursor);
  let position = Math.max(request.after ?? cursor.floor, cursor.floor);
  const budget = deps.limits.budget();
  const maxBytes = Math.min(request.maxBytes, budget);
  const messages: ReplayMessage[] = [];
  let bytes = 0;
  let done = false;
  // An unsendable message is passed over as if it were not there: the next one's `prev` reaches back past it.
  let prev = position;
  while (messages.length < request.limit) {
    const stored = await deps.jsm.direct.getMessage(deps.s.streams.mailbox, {
      seq: position + 1,
      next_by_subj: subject,
    });
    if (!stored) {
      done = true;
      break;
    }
    const size = stored.data.length + ENTRY_OVERHEAD_BYTES;
    if (!skip.has(stored.seq) && messages.length > 0 && bytes + size > maxBytes) break;
    position = stored.seq;
    if (skip.has(stored.seq)) {
      prev = position;
      continue;
    }
    const why = unsendable(stored.data, budget);
    if (why) {
      deps.limits.onUnsendable(deps.s.streams.mailbox, stored.seq, why);
      continue;
    }
    const entry = readStored(stored);
    if (entry.kind === "invalid") {
      await deps.deadLetter(stored, entry);
      prev = position;
      continue;
    }
    // The trace travels with a replayed message too, so its socket write and ack join the publish's trace.
    const trace = traceparentHeader(stored.header);
    messages.push({
      id: entry.id,
      data: entry.data,
      ts: entry.ts,
      seq: stored.seq,
      prev,
      ...(trace ? { trace } : {}),
    });
    prev = position;
    bytes += size;
  }
  const told = gap && { after: gap.after, ...(gap.before === undefined ? {} : { before: gap.before }) };
  return { messages, scannedTo: position, done, ...(told ? { gap: told } : {}) };
}
