import type { ChannelMessageFrame, ServerFrame, SubscribedFrame } from "@herald/protocol";
import { connectClient, signToken, type TestClient, waitUntil } from "@herald/testkit";
import type { Backend } from "./backend.js";
import { longestGap } from "./pauses.js";

export type ChannelWatch = {
  /** Ids received on each channel, in arrival order. */
  ids: Map<string, string[]>;
  /** Publishes `perChannel` messages to every channel (ids `<channel>-<n>`), `window` PubAcks outstanding. */
  publishAll: (perChannel: number, window?: number) => Promise<void>;
  /** Waits until every channel received `perChannel` messages. */
  waitAll: (perChannel: number, timeoutMs: number) => Promise<void>;
  /** The longest wait between two messages of one channel since `since` (ms since epoch), with its channel. */
  longestPause: (since: number) => { ms: number; channel: string };
  close: () => Promise<void>;
};

const isChannelMessage = (f: ServerFrame): f is ChannelMessageFrame => f.type === "message" && "channel" in f;

/**
 * One live subscriber on `count` channels (`<prefix>0`…), plus a publisher for them: the channel half of a
 * crash test's load, timed per message so a pause in a channel's deliveries can be measured.
 */
export async function watchChannels(options: {
  url: (token: string) => string;
  secret: string;
  backend: Backend;
  count: number;
  prefix?: string;
}): Promise<ChannelWatch> {
  const prefix = options.prefix ?? "load-";
  const channels = Array.from({ length: options.count }, (_, i) => `${prefix}${i}`);
  const ids = new Map(channels.map((c) => [c, [] as string[]]));
  const times = new Map(channels.map((c) => [c, [] as number[]]));
  const token = await signToken({ sub: "channel-watcher", channels: [`${prefix}*`] }, options.secret);
  const client: TestClient = await connectClient(options.url(token));
  client.ws.on("message", (data) => {
    const frame = JSON.parse(data.toString()) as ServerFrame;
    if (!isChannelMessage(frame)) return;
    ids.get(frame.channel)?.push(frame.id);
    times.get(frame.channel)?.push(Date.now());
  });
  for (const channel of channels) {
    client.send({ type: "subscribe", channel });
    await client.waitFor<SubscribedFrame>((f) => f.type === "subscribed" && f.channel === channel);
  }
  return {
    ids,
    publishAll: (perChannel, window = 16) =>
      options.backend.pipeline(
        perChannel * channels.length,
        (i) => {
          const channel = channels[i % channels.length]!;
          const n = Math.floor(i / channels.length);
          return {
            subject: options.backend.s.sendChannel(channel),
            body: { data: { n }, id: `${channel}-${n}` },
          };
        },
        window,
      ),
    waitAll: async (perChannel, timeoutMs) => {
      await waitUntil(() => channels.every((c) => (ids.get(c)?.length ?? 0) >= perChannel), {
        timeoutMs,
        intervalMs: 100,
        message: () => `every channel got ${perChannel} messages`,
      });
    },
    longestPause: (since) => {
      const { ms, key } = longestGap(times, since);
      return { ms, channel: key };
    },
    close: async () => {
      await client.close();
    },
  };
}

/** The ids a channel gets from `publishAll`, in publish order. */
export function expectedChannelIds(channel: string, perChannel: number): string[] {
  return Array.from({ length: perChannel }, (_, n) => `${channel}-${n}`);
}
