import { type CursorReply, intakePartitionCount } from "@herald/protocol";
import { type Ctx, requestJson } from "../context.js";
import { CommandFailedError } from "../errors.js";
import { checkedUser } from "./publish.js";

type Connection = { connectionId: string; deviceId: string; connectorId: string; since: number };
type PresenceReply = { userId: string; online: boolean; connections: Connection[] };
type CountReply = { users: number; connections: number; connectors: unknown };

/** `presence [userId…]`: who is online and on which connections; without ids, the totals. */
export async function presence(ctx: Ctx, args: string[]): Promise<void> {
  if (args.length === 0) {
    const counts = await requestJson<CountReply>(ctx, ctx.s.presenceCount, {});
    const connectors =
      typeof counts.connectors === "number" ? counts.connectors : Object.keys(counts.connectors ?? {}).length;
    ctx.print(
      `${counts.users} users online, ${counts.connections} connections, ${connectors} connectors`,
      counts,
    );
    return;
  }
  const lines: string[] = [];
  const users: PresenceReply[] = [];
  for (const userId of args.map(checkedUser)) {
    const reply = await requestJson<PresenceReply>(ctx, ctx.s.presenceGet, { userId });
    users.push(reply);
    lines.push(`${userId}: ${reply.online ? "online" : "offline"}`);
    for (const c of reply.connections) {
      lines.push(
        `  ${c.deviceId} ${c.connectionId} on ${c.connectorId} since ${new Date(c.since).toISOString()}`,
      );
    }
  }
  ctx.print(lines, users.length === 1 ? users[0] : { users });
}

/** `devices <userId>`: every device's acked cursor and what it still has to ack (`api.cursor.get`). */
export async function devices(ctx: Ctx, args: string[]): Promise<void> {
  const userId = checkedUser(args[0]);
  const reply = await requestJson<CursorReply>(ctx, ctx.s.cursorGet, { userId });
  const lines = reply.devices.length === 0 ? [`${userId}: no device ever connected`] : [];
  for (const d of reply.devices)
    lines.push(`${d.deviceId}: acked up to #${d.ackedSeq}, ${d.pending} pending`);
  ctx.print(lines, reply);
}

type StreamHealth = {
  stream: string;
  ok: boolean;
  messages?: number;
  bytes?: number;
  consumers?: number;
  problem?: string;
};
type ConsumerHealth = {
  stream: string;
  consumer: string;
  ok: boolean;
  pending?: number;
  ackPending?: number;
  redelivered?: number;
  problem?: string;
};

/** `health`: each stream's size and each durable consumer's backlog; exit 1 when one is missing. */
export async function health(ctx: Ctx): Promise<void> {
  const { s, jsm } = ctx;
  const names: string[] = [s.streams.intake, s.streams.mailbox, s.streams.acks, s.streams.dead];
  for await (const name of jsm.streams.names()) {
    if (name.startsWith(s.streams.channel("")) && !names.includes(name)) names.push(name);
  }
  const streams: StreamHealth[] = [];
  let partitions = 0;
  for (const stream of names) {
    try {
      const info = await jsm.streams.info(stream);
      if (stream === s.streams.intake) partitions = intakePartitionCount(info.config.subject_transform);
      const { messages, bytes, consumer_count: consumers } = info.state;
      streams.push({ stream, ok: true, messages, bytes, consumers });
    } catch (err) {
      streams.push({ stream, ok: false, problem: (err as Error).message });
    }
  }
  const consumers: ConsumerHealth[] = [];
  // The router's lanes: the unpartitioned one and one per intake partition.
  const lanes = Array.from({ length: partitions }, (_, k) => [
    s.streams.intake,
    s.consumers.routerPartition(k),
  ]);
  for (const [stream, consumer] of [
    [s.streams.intake, s.consumers.router],
    ...lanes,
    [s.streams.acks, s.consumers.persistence],
  ] as const) {
    try {
      const info = await jsm.consumers.info(stream, consumer);
      const { num_pending: pending, num_ack_pending: ackPending, num_redelivered: redelivered } = info;
      consumers.push({ stream, consumer, ok: true, pending, ackPending, redelivered });
    } catch (err) {
      consumers.push({ stream, consumer, ok: false, problem: (err as Error).message });
    }
  }
  const lines = [
    ...streams.map((h) =>
      h.ok
        ? `stream ${h.stream}: ${h.messages} messages, ${h.bytes} bytes, ${h.consumers} consumers`
        : `stream ${h.stream}: MISSING (${h.problem})`,
    ),
    ...consumers.map((h) =>
      h.ok
        ? `consumer ${h.stream}/${h.consumer}: ${h.pending} waiting, ${h.ackPending} unacked, ${h.redelivered} redelivered`
        : `consumer ${h.stream}/${h.consumer}: MISSING (${h.problem})`,
    ),
  ];
  const ok = streams.every((h) => h.ok) && consumers.every((h) => h.ok);
  ctx.print(lines, { ok, streams, consumers });
  if (!ok) throw new CommandFailedError("some streams or consumers are missing", { cause: "reported" });
}
