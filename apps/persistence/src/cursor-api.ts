import { assertUserId, type CursorReply, type Subjects, userQuerySchema, userToken } from "@herald/protocol";
import { parseRequest } from "@herald/service-kit";
import { AckPolicy, DeliverPolicy, type JetStreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { CursorStore } from "./cursor-store.js";

export type CursorApiDeps = { jsm: JetStreamManager; s: Subjects; store: CursorStore };

/** `<p>.api.cursor.get`: each device's acked floor and how many messages it still has to ack. */
export async function getCursors(deps: CursorApiDeps, input: unknown): Promise<CursorReply> {
  const { userId } = parseRequest(userQuerySchema, input, 'expected {"userId": string}');
  assertUserId(userId);
  const devices = await deps.store.devices(userId);
  const subject = deps.s.mailbox(userToken(userId));
  const result: CursorReply["devices"] = [];
  for (const { deviceId, state } of devices) {
    const after = await countAfter(deps, subject, state.floor);
    result.push({ deviceId, ackedSeq: state.floor, pending: Math.max(0, after - state.above.length) });
  }
  return { userId, devices: result };
}

/** Messages of `subject` stored after `seq`, counted by a short-lived consumer that the server sizes for us. */
async function countAfter(deps: CursorApiDeps, subject: string, seq: number): Promise<number> {
  const info = await deps.jsm.consumers.add(deps.s.streams.mailbox, {
    filter_subject: subject,
    ack_policy: AckPolicy.None,
    mem_storage: true,
    inactive_threshold: nanos(5_000),
    ...(seq > 0
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: seq + 1 }
      : { deliver_policy: DeliverPolicy.All }),
  });
  await deps.jsm.consumers.delete(deps.s.streams.mailbox, info.name).catch(() => false);
  return info.num_pending;
}
