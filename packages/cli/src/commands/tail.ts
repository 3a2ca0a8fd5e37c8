import { BROADCAST_CHANNEL, BROADCAST_TOKEN, retentionFor, userToken } from "@herald/protocol";
import { DeliverPolicy } from "@nats-io/jetstream";
import { type Ctx, intOption } from "../context.js";
import { UsageError } from "../errors.js";
import { checkedChannel, checkedUser } from "./publish.js";

/** Which stream and subject hold a user's or a channel's messages. */
function source(ctx: Ctx, args: string[]): { stream: string; subject: string } {
  const [kind, name] = args;
  const { s } = ctx;
  if (kind === "user") return { stream: s.streams.mailbox, subject: s.mailbox(userToken(checkedUser(name))) };
  if (kind === "channel" || kind === "broadcast") {
    const channel = kind === "broadcast" ? BROADCAST_CHANNEL : checkedChannel(name);
    const group = retentionFor(ctx.config.HERALD_CHANNEL_RETENTION, channel);
    const token = kind === "broadcast" ? BROADCAST_TOKEN : channel;
    return { stream: s.streams.channel(group.id), subject: s.channel(group.id, token) };
  }
  throw new UsageError("tail what? user <userId> | channel <channel> | broadcast");
}

/**
 * `tail user|channel|broadcast`: prints messages as they are stored (with `--since <seq>`, first those after
 * it), through an ordered consumer, until `--count` messages or `--timeout` seconds, or Ctrl-C.
 */
export async function tail(ctx: Ctx, args: string[]): Promise<void> {
  const { stream, subject } = source(ctx, args);
  const since = ctx.options.since === undefined ? undefined : intOption(ctx.options.since, "since", 0);
  const count = intOption(ctx.options.count, "count", 0);
  const timeoutS = intOption(ctx.options.timeout, "timeout", 0);
  const consumer = await ctx.js.consumers.get(stream, {
    filter_subjects: [subject],
    ...(since === undefined
      ? { deliver_policy: DeliverPolicy.New }
      : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: since + 1 }),
  });
  const messages = await consumer.consume();
  const stop = () => void messages.close();
  const timer = timeoutS > 0 ? setTimeout(stop, timeoutS * 1000) : undefined;
  process.once("SIGINT", stop);
  let seen = 0;
  try {
    for await (const msg of messages) {
      const entry = safeEntry(msg.string());
      const line = { seq: msg.seq, subject: msg.subject, ...entry };
      ctx.print(
        `#${msg.seq} ${entry.id ?? "?"} ${new Date(entry.ts ?? 0).toISOString()} ${JSON.stringify(entry.data)}`,
        line,
      );
      if (count > 0 && ++seen >= count) break;
    }
  } finally {
    clearTimeout(timer);
    process.off("SIGINT", stop);
    await messages.close();
  }
}

function safeEntry(text: string): { id?: string; data?: unknown; ts?: number } {
  try {
    return JSON.parse(text) as { id?: string; data?: unknown; ts?: number };
  } catch {
    return { data: text };
  }
}
