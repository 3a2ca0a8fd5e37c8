import {
  BROADCAST_CHANNEL,
  BROADCAST_TOKEN,
  type ChannelReplayReply,
  type ChannelRetention,
  channelProblem,
  channelReplayRequestSchema,
  ErrorCode,
  HeraldError,
  mailboxEntrySchema,
  retentionFor,
  type Subjects,
} from "@herald/protocol";
import { parseRequest } from "@herald/service-kit";
import type { JetStreamManager } from "@nats-io/jetstream";
import { ENTRY_OVERHEAD_BYTES, type PageLimits, unsendable } from "./page.js";

export type ChannelReplayDeps = {
  jsm: JetStreamManager;
  s: Subjects;
  groups: readonly ChannelRetention[];
  limits: PageLimits;
};

/**
 * `<p>.api.channel.replay`: a channel's messages after `since`, in pages, and whether that history is whole.
 * Without `since`, only the channel's current end, so a subscriber starts live from there. Pages are bounded
 * like user replay pages (`replayPage`): they always fit one NATS message.
 */
export async function channelReplayPage(
  deps: ChannelReplayDeps,
  input: unknown,
): Promise<ChannelReplayReply> {
  const request = parseRequest(channelReplayRequestSchema, input);
  const broadcast = request.channel === BROADCAST_CHANNEL;
  const problem = broadcast ? undefined : channelProblem(request.channel);
  if (problem) throw new HeraldError(ErrorCode.InvalidChannel, problem);
  const group = retentionFor(deps.groups, request.channel);
  const stream = deps.s.streams.channel(group.id);
  const subject = deps.s.channel(group.id, broadcast ? BROADCAST_TOKEN : request.channel);

  if (request.since === undefined) {
    const last = await deps.jsm.direct.getMessage(stream, { last_by_subj: subject });
    return { messages: [], scannedTo: last?.seq ?? 0, done: true, recovered: true };
  }
  const recovered = await historyIsWhole(deps, stream, subject, request.since);
  let position = request.since;
  const budget = deps.limits.budget();
  const maxBytes = Math.min(request.maxBytes, budget);
  const messages: ChannelReplayReply["messages"] = [];
  let bytes = 0;
  let done = false;
  // An unsendable message is passed over as if it were not there: the next one's `prev` reaches back past it.
  let prev = position;
  while (messages.length < request.limit) {
    const stored = await deps.jsm.direct.getMessage(stream, { seq: position + 1, next_by_subj: subject });
    if (!stored) {
      done = true;
      break;
    }
    const size = stored.data.length + ENTRY_OVERHEAD_BYTES;
    if (messages.length > 0 && bytes + size > maxBytes) break;
    position = stored.seq;
    const why = unsendable(stored.data, budget);
    if (why) {
      deps.limits.onUnsendable(stream, stored.seq, why);
      continue;
    }
    const entry = mailboxEntrySchema.safeParse(stored.json());
    if (!entry.success) continue;
    messages.push({ ...entry.data, offset: stored.seq, prev });
    prev = position;
    bytes += size;
  }
  return { messages, scannedTo: position, done, recovered };
}

/**
 * Retention drops a subject's oldest messages first, so when the message at `since` is still there nothing
 * after it is gone. When it is not, the gap cannot be proven empty and the answer is false.
 */
async function historyIsWhole(
  deps: ChannelReplayDeps,
  stream: string,
  subject: string,
  since: number,
): Promise<boolean> {
  if (since === 0) {
    const info = await deps.jsm.streams.info(stream);
    return info.state.first_seq <= 1;
  }
  const at = await deps.jsm.direct.getMessage(stream, { seq: since }).catch(() => null);
  return at !== null && at.subject === subject;
}
