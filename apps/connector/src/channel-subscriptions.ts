import {
  type ChannelReplayReply,
  type ChannelRetention,
  channelAllowed,
  channelProblem,
  ErrorCode,
  type ErrorFrame,
  PRIVATE_CHANNEL_PREFIX,
  retentionFor,
  type Subjects,
  type SubscribedFrame,
} from "@herald/protocol";
import { endSpan, type Logger, SpanKind, startSpan } from "@herald/service-kit";
import { AuthError, type Identity, type Verifier } from "./auth.js";
import { GaplessFeed } from "./gapless-feed.js";
import { channelPage, type Delivery, type LiveFeeds } from "./live-feeds.js";

export type ChannelDeps = {
  feeds: LiveFeeds<Delivery>;
  s: Subjects;
  groups: readonly ChannelRetention[];
  replay: (channel: string, since: number | undefined, limit: number) => Promise<ChannelReplayReply>;
  verify: Verifier;
  maxSubscriptions: number;
  pageSize: number;
  logger: Logger;
};

export type SubscribeRequest = { channel: string; since?: number | undefined; token?: string | undefined };

type Subscription = { feed: GaplessFeed<Delivery>; unfollow: () => void };

const fail = (code: string, message: string): ErrorFrame => ({ type: "error", code, message });

/**
 * The channels one connection is subscribed to. Each is a gapless feed of the channel's stream subject: from
 * `since` (replayed first, `recovered` saying whether that history is whole) or from now, then live.
 */
export class ChannelSubscriptions {
  private readonly subscriptions = new Map<string, Subscription>();

  constructor(
    private readonly deps: ChannelDeps,
    private readonly identity: () => Identity,
    private readonly send: (frame: string | Buffer) => boolean,
  ) {}

  get size(): number {
    return this.subscriptions.size;
  }

  /** Subscribes, or explains why not; a repeated subscribe restarts from its `since`. */
  async subscribe(request: SubscribeRequest): Promise<ErrorFrame | undefined> {
    const { channel } = request;
    const problem = channelProblem(channel);
    if (problem) return fail(ErrorCode.InvalidChannel, problem);
    if (!this.subscriptions.has(channel) && this.subscriptions.size >= this.deps.maxSubscriptions) {
      return fail(
        "too_many_subscriptions",
        `at most ${this.deps.maxSubscriptions} subscriptions per connection`,
      );
    }
    const denied = await this.authorize(channel, request.token);
    if (denied) return denied;
    this.unsubscribe(channel);
    const group = retentionFor(this.deps.groups, channel);
    let first = true;
    const feed = new GaplessFeed<Delivery>({
      replay: async (after, limit) => {
        const reply = await this.deps.replay(channel, after, limit);
        if (first) {
          first = false;
          const subscribed: SubscribedFrame = {
            type: "subscribed",
            channel,
            recovered: request.since !== undefined && reply.recovered,
          };
          this.send(JSON.stringify(subscribed));
        }
        return channelPage(reply, channel);
      },
      deliver: (delivery) => this.deliver(channel, delivery),
      room: () => Number.MAX_SAFE_INTEGER,
      pageSize: this.deps.pageSize,
      logger: this.deps.logger.child({ channel }),
    });
    const unfollow = this.deps.feeds.follow(this.deps.s.channelLive(group.id, channel), channel, (d) =>
      feed.push(d),
    );
    this.subscriptions.set(channel, { feed, unfollow });
    feed.start(request.since);
    return undefined;
  }

  unsubscribe(channel: string): boolean {
    const subscription = this.subscriptions.get(channel);
    if (!subscription) return false;
    subscription.unfollow();
    subscription.feed.close();
    this.subscriptions.delete(channel);
    return true;
  }

  resync(): void {
    for (const { feed } of this.subscriptions.values()) feed.resync();
  }

  closeAll(): void {
    for (const channel of [...this.subscriptions.keys()]) this.unsubscribe(channel);
  }

  /**
   * A channel is open to a connection whose `channels` claim names it, unless it is private (`private-…`):
   * those, and any channel the claim does not name, need a subscription token for this user and channel.
   */
  private async authorize(channel: string, token: string | undefined): Promise<ErrorFrame | undefined> {
    const identity = this.identity();
    const isPrivate = channel.startsWith(PRIVATE_CHANNEL_PREFIX);
    if (!isPrivate && channelAllowed(identity.channels, channel)) return undefined;
    if (token === undefined) {
      return fail(
        "forbidden",
        `not allowed to subscribe to '${channel}'${isPrivate ? " without a subscription token" : ""}`,
      );
    }
    try {
      const granted = await this.deps.verify(token);
      if (granted.userId !== identity.userId || granted.channel !== channel) {
        return fail("forbidden", `the subscription token is not for this user and channel '${channel}'`);
      }
      return undefined;
    } catch (err) {
      if (err instanceof AuthError) return fail(err.code, `subscription token: ${err.message}`);
      throw err;
    }
  }

  /** Sends a channel message; a live one with a trace gets a socket-write span under the router's write. */
  private deliver(channel: string, delivery: Delivery): void {
    const span =
      delivery.trace === undefined
        ? undefined
        : startSpan("herald.connector.send", delivery.trace, SpanKind.PRODUCER, {
            "messaging.message.id": delivery.id,
            "herald.offset": delivery.seq,
            "herald.channel": channel,
          });
    const sent = this.send(delivery.frame);
    endSpan(span, sent ? undefined : "socket closed");
  }
}
