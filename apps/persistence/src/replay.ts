import {
  assertUserId,
  type ReplayMessage,
  type ReplayReply,
  replayRequestSchema,
  type Subjects,
  userToken,
} from "@herald/protocol";
import { parseRequest } from "@herald/service-kit";
import type { JetStreamManager } from "@nats-io/jetstream";
import { ackedAbove } from "./cursor.js";
import type { CursorStore } from "./cursor-store.js";
import { type DeadLetter, readStored } from "./mailbox-reader.js";

export type ReplayDeps = { jsm: JetStreamManager; s: Subjects; store: CursorStore; deadLetter: DeadLetter };

/**
 * One page of what a device has not acked: the user's mailbox walked with direct gets from `after` (or the
 * device's cursor floor), skipping messages the device acked above its floor, and dead-lettering (then
 * skipping) entries that are not valid messages. A message's `prev` is the user's previous stored sequence
 * (valid or not), as RePublish's `Nats-Last-Sequence` says live; cursors step over invalid ones (`cursor.ts`).
 */
export async function replayPage(deps: ReplayDeps, input: unknown): Promise<ReplayReply> {
  const request = parseRequest(replayRequestSchema, input);
  for (const id of [request.userId, request.deviceId]) assertUserId(id);
  const cursor = await deps.store.read(request.userId, request.deviceId);
  if (request.after === undefined && cursor.updatedAt === 0)
    await deps.store.ensure(request.userId, request.deviceId);
  const skip = ackedAbove(cursor);
  const subject = deps.s.mailbox(userToken(request.userId));
  let position = Math.max(request.after ?? cursor.floor, cursor.floor);
  const messages: ReplayMessage[] = [];
  let bytes = 0;
  let done = false;
  while (messages.length < request.limit && bytes < request.maxBytes) {
    const stored = await deps.jsm.direct.getMessage(deps.s.streams.mailbox, {
      seq: position + 1,
      next_by_subj: subject,
    });
    if (!stored) {
      done = true;
      break;
    }
    const prev = position;
    position = stored.seq;
    if (skip.has(stored.seq)) continue;
    const entry = readStored(stored);
    if (entry.kind === "invalid") {
      await deps.deadLetter(stored, entry);
      continue;
    }
    messages.push({ id: entry.id, data: entry.data, ts: entry.ts, seq: stored.seq, prev });
    bytes += stored.data.length + 64;
  }
  return { messages, scannedTo: position, done };
}
