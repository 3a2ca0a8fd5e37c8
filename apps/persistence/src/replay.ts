import {
  assertUserId,
  type CursorState,
  type ReplayMessage,
  type ReplayReply,
  replayRequestSchema,
  type Subjects,
  userToken,
} from "@herald/protocol";
import { parseRequest, readDirectBatch, traceparentHeader } from "@herald/service-kit";
import type { JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { ackedAbove } from "./cursor.js";
import type { CursorStore } from "./cursor-store.js";
import { findGap, type Gap, type GapNotice, type MailboxLookups, pastGap } from "./gap-check.js";
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
  /** How long one read of the mailbox may take. */
  readTimeoutMs: number;
};

/**
 * One page of what a device has not acked: the user's mailbox read with one batch direct get from `after`
 * (or the device's cursor floor), skipping messages the device acked above its floor, and dead-lettering
 * (then skipping) entries that are not valid messages. A message's `prev` is the user's previous stored
 * sequence (valid or not), as RePublish's `Nats-Last-Sequence` says live; cursors step over invalid ones
 * (`cursor.ts`). A page stops before the message that would take it past `maxBytes` or the reply budget
 * (whichever is smaller), so it always fits one NATS message. A connect's first page also says when retention
 * removed messages the device had not acked (`gap-check.ts`); the cursor then moves past them, so it is said
 * once.
 */
export async function replayPage(deps: ReplayDeps, input: unknown): Promise<ReplayReply> {
  const request = parseRequest(replayRequestSchema, input);
  for (const id of [request.userId, request.deviceId]) assertUserId(id);
  const subject = deps.s.mailbox(userToken(request.userId));
  const { cursor, gap } = await cursorOnConnect(deps, request, subject);
  const skip = ackedAbove(cursor);
  const from = Math.max(request.after ?? cursor.floor, cursor.floor);
  const budget = deps.limits.budget();
  const maxBytes = Math.min(request.maxBytes, budget);
  // Acked entries above the floor come back too; asking for them as well keeps a page full.
  const read = await readDirectBatch(deps.jsm, deps.s.streams.mailbox, {
    seq: from + 1,
    subject,
    batch: Math.min(request.limit + skip.size, MAX_BATCH),
    maxBytes,
    timeoutMs: deps.readTimeoutMs,
  });
  const page = await pageOf(deps, read.messages, { from, skip, limit: request.limit, maxBytes, budget });
  const told = gap && { after: gap.after, ...(gap.before === undefined ? {} : { before: gap.before }) };
  return {
    messages: page.messages,
    scannedTo: page.scannedTo,
    done: page.complete && !read.more,
    ...(told ? { gap: told } : {}),
  };
}

/** The most a batch asks for: the request's own limit is at most 10,000. */
const MAX_BATCH = 20_000;

/** The device's cursor (registered on its first connect), past any gap retention left and told once. */
async function cursorOnConnect(
  deps: ReplayDeps,
  request: { userId: string; deviceId: string; after?: number | undefined },
  subject: string,
): Promise<{ cursor: CursorState; gap: Gap | undefined }> {
  let cursor = await deps.store.read(request.userId, request.deviceId);
  // Also when resuming (`after`): a device erased since must be registered again for its acks to count.
  if (cursor.updatedAt === 0) await deps.store.ensure(request.userId, request.deviceId);
  const gap = request.after === undefined ? await findGap(cursor, subject, deps.gaps.lookups) : undefined;
  if (gap) {
    cursor = await deps.store.update(request.userId, request.deviceId, (state) =>
      pastGap(state, gap, Date.now()),
    );
    deps.gaps.notice(request.userId, request.deviceId, gap);
  }
  return { cursor, gap };
}

type PageBounds = { from: number; skip: Set<number>; limit: number; maxBytes: number; budget: number };

/**
 * The messages of a page out of what the batch read, in order. `complete` is false when the page stopped
 * before the batch's end (the limit or the byte bound); `scannedTo` is the last sequence it looked at.
 */
async function pageOf(
  deps: ReplayDeps,
  stored: StoredMsg[],
  { from, skip, limit, maxBytes, budget }: PageBounds,
): Promise<{ messages: ReplayMessage[]; scannedTo: number; complete: boolean }> {
  const messages: ReplayMessage[] = [];
  let bytes = 0;
  let position = from;
  // An unsendable message is passed over as if it were not there: the next one's `prev` reaches back past it.
  let prev = position;
  for (const entry of stored) {
    if (messages.length >= limit) return { messages, scannedTo: position, complete: false };
    const size = entry.data.length + ENTRY_OVERHEAD_BYTES;
    if (!skip.has(entry.seq) && messages.length > 0 && bytes + size > maxBytes)
      return { messages, scannedTo: position, complete: false };
    position = entry.seq;
    if (skip.has(entry.seq)) {
      prev = position;
      continue;
    }
    const why = unsendable(entry.data, budget);
    if (why) {
      deps.limits.onUnsendable(deps.s.streams.mailbox, entry.seq, why);
      continue;
    }
    const read = readStored(entry);
    if (read.kind === "invalid") {
      await deps.deadLetter(entry, read);
      prev = position;
      continue;
    }
    // The trace travels with a replayed message too, so its socket write and ack join the publish's trace.
    const trace = traceparentHeader(entry.header);
    messages.push({
      id: read.id,
      data: read.data,
      ts: read.ts,
      seq: entry.seq,
      prev,
      ...(trace ? { trace } : {}),
    });
    prev = position;
    bytes += size;
  }
  return { messages, scannedTo: position, complete: true };
}
