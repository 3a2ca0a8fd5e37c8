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
  type UnsubscribedFrame,
} from "@herald/protocol";
import { endSpan, type Logger, SpanKind, startSpan, type WakeableSleeps } from "@herald/service-kit";
import { AuthError, type Identity, type Verifier } from "./auth.js";
import type { FrameSink } from "./frames.js";
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
  /** Where failed replays wait to retry (shared by the connector's feeds). */
  retries?: WakeableSleeps;
  logger: Logger;
};

export type SubscribeRequest = { channel: string; since?: number | undefined; token?: string | undefined };

/** How a subscription was allowed: by the connection token's `channels` claim, or by a subscription token. */
type Grant = "claim" | "token";
type Subscription = { feed: GaplessFeed<Delivery>; unfollow: () => void; grant: Grant };

const fail = (code: ErrorCode, message: string): ErrorFrame => ({ type: "error", code, message });

/**
 * The channels one connection is subscribed to. Each is a gapless feed of the channel's stream subject: from
 * `since` (replayed first, `recovered` saying whether that history is whole) or from now, then live.
 */
export class ChannelSubscriptions {
  private readonly subscriptions = new Map<string, Subscription>();
  /** New channels whose subscribe awaits its token check: each holds a slot, so pipelined frames cannot overrun the limit. */
  private readonly pending = new Set<string>();
  private closed = false;

  constructor(
    private readonly deps: ChannelDeps,
    private readonly identity: () => Identity,
    private readonly client: FrameSink,
  ) {}

  get size(): number {
    return this.subscriptions.size;
  }

  /** Subscribes, or explains why not; a repeated subscribe restarts from its `since`. */
  async subscribe(request: SubscribeRequest): Promise<ErrorFrame | undefined> {
    const { channel } = request;
    const problem = channelProblem(channel);
    if (problem) return fail(ErrorCode.InvalidChannel, problem);
    const reserve = !this.subscriptions.has(channel) && !this.pending.has(channel);
    if (reserve && this.full()) return this.tooMany();
    // The slot is taken now, before the first await: the count and the reservation are one synchronous step.
    if (reserve) this.pending.add(channel);
    let verdict: { denied: ErrorFrame } | { grant: Grant };
    try {
      verdict = await this.authorize(channel, request.token);
    } finally {
      if (reserve) this.pending.delete(channel);
    }
    if ("denied" in verdict) return verdict.denied;
    if (this.closed) return undefined;
    // A concurrent subscribe to the same channel may have let go of the slot this one relied on.
    if (!this.subscriptions.has(channel) && this.full()) return this.tooMany();
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
          this.client.send(JSON.stringify(subscribed));
        }
        return channelPage(reply, channel);
      },
      deliver: (delivery) => this.deliver(channel, delivery),
      room: () => Number.MAX_SAFE_INTEGER,
      pageSize: this.deps.pageSize,
      retries: this.deps.retries,
      logger: this.deps.logger.child({ channel }),
    });
    // Only `push`: a channel's unreadable live message is found by the next one's gap, as before.
    const listener = { push: (d: Delivery) => feed.push(d) };
    const subject = this.deps.s.channelLive(group.id, channel);
    this.deps.feeds.follow(subject, channel, listener);
    const unfollow = () => this.deps.feeds.unfollow(subject, listener);
    this.subscriptions.set(channel, { feed, unfollow, grant: verdict.grant });
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
    this.closed = true;
    for (const channel of [...this.subscriptions.keys()]) this.unsubscribe(channel);
  }

  /**
   * After a refresh: ends each subscription the connection's claims allowed but no longer do, and tells the
   * client with an `unsubscribed` frame. Subscriptions granted by a subscription token stand on that token.
   */
  revalidate(): string[] {
    const { channels } = this.identity();
    const ended: string[] = [];
    for (const [channel, subscription] of [...this.subscriptions]) {
      if (subscription.grant !== "claim" || channelAllowed(channels, channel)) continue;
      this.unsubscribe(channel);
      ended.push(channel);
      const frame: UnsubscribedFrame = {
        type: "unsubscribed",
        channel,
        code: ErrorCode.Forbidden,
        message: `the refreshed token no longer allows '${channel}'`,
      };
      this.client.send(JSON.stringify(frame));
    }
    return ended;
  }

  private full(): boolean {
    return this.subscriptions.size + this.pending.size >= this.deps.maxSubscriptions;
  }

  private tooMany(): ErrorFrame {
    return fail(
      ErrorCode.TooManySubscriptions,
      `at most ${this.deps.maxSubscriptions} subscriptions per connection`,
    );
  }

  /**
   * A channel is open to a connection whose `channels` claim names it, unless it is private (`private-…`):
   * those, and any channel the claim does not name, need a subscription token for this user and channel.
   */
  private async authorize(
    channel: string,
    token: string | undefined,
  ): Promise<{ denied: ErrorFrame } | { grant: Grant }> {
    const identity = this.identity();
    const isPrivate = channel.startsWith(PRIVATE_CHANNEL_PREFIX);
    if (!isPrivate && channelAllowed(identity.channels, channel)) return { grant: "claim" };
    const deny = (code: ErrorCode, message: string) => ({ denied: fail(code, message) });
    if (token === undefined) {
      return deny(
        ErrorCode.Forbidden,
        `not allowed to subscribe to '${channel}'${isPrivate ? " without a subscription token" : ""}`,
      );
    }
    try {
      const granted = await this.deps.verify(token, "subscription");
      if (granted.userId !== identity.userId || granted.channel !== channel) {
        return deny(
          ErrorCode.Forbidden,
          `the subscription token is not for this user and channel '${channel}'`,
        );
      }
      return { grant: "token" };
    } catch (err) {
      if (err instanceof AuthError) return deny(err.code, `subscription token: ${err.message}`);
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
    const sent = this.client.send(delivery.frame);
    endSpan(span, sent ? undefined : "socket closed");
  }
}
