import {
  channelProblem,
  isPartitionKey,
  PARTITION_KEY_RULE,
  userIdProblem,
  userToken,
} from "@herald/protocol";
import type { Ctx } from "../context.js";
import { UsageError } from "../errors.js";

/** `data` as JSON when it parses, else the text itself (so `herald publish user bob hello` works). */
function dataOf(text: string | undefined): unknown {
  if (text === undefined) throw new UsageError("missing <data>");
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function checkedUser(userId: string | undefined): string {
  if (userId === undefined) throw new UsageError("missing <userId>");
  const problem = userIdProblem(userId);
  if (problem) throw new UsageError(`user id ${JSON.stringify(userId)}: ${problem}`);
  return userId;
}

export function checkedChannel(channel: string | undefined): string {
  if (channel === undefined) throw new UsageError("missing <channel>");
  const problem = channelProblem(channel);
  if (problem) throw new UsageError(`channel ${JSON.stringify(channel)}: ${problem}`);
  return channel;
}

/** `publish user|users|channel|broadcast …`: a JetStream publish on the public subjects, as a backend does. */
export async function publish(ctx: Ctx, args: string[]): Promise<void> {
  const [kind, ...rest] = args;
  const { s } = ctx;
  let subject: string;
  let body: Record<string, unknown>;
  if (kind === "user") {
    subject = s.sendUser(userToken(checkedUser(rest[0])));
    body = { data: dataOf(rest[1]) };
  } else if (kind === "users") {
    const userIds = (rest[0] ?? "").split(",").filter(Boolean);
    if (userIds.length === 0) throw new UsageError("missing <userId,userId,...>");
    userIds.forEach(checkedUser);
    const { key } = ctx.options;
    if (key !== undefined && !isPartitionKey(key)) {
      throw new UsageError(`--key ${JSON.stringify(key)}: ${PARTITION_KEY_RULE}`);
    }
    subject = key === undefined ? s.sendUsers : s.sendUsersKeyed(key);
    body = { userIds, data: dataOf(rest[1]) };
  } else if (kind === "channel") {
    subject = s.sendChannel(checkedChannel(rest[0]));
    body = { data: dataOf(rest[1]) };
  } else if (kind === "broadcast") {
    subject = s.sendBroadcast;
    body = { data: dataOf(rest[0]) };
  } else {
    throw new UsageError(
      "publish what? user <userId> | users <id,id> | channel <channel> | broadcast, then <data>",
    );
  }
  if (ctx.options.id !== undefined) body.id = ctx.options.id;
  // The id is also the publish's msgID, so the PubAck tells a repeated id (`duplicate`).
  const id = ctx.options.id;
  const ack = await ctx.js.publish(subject, JSON.stringify(body), id === undefined ? {} : { msgID: id });
  ctx.print(
    `accepted: ${ack.stream} #${ack.seq}${ack.duplicate ? " (duplicate id: already accepted)" : ""}`,
    {
      subject,
      stream: ack.stream,
      seq: ack.seq,
      duplicate: ack.duplicate,
    },
  );
}
