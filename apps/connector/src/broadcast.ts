import { BROADCAST_CHANNEL, BROADCAST_RETENTION, BROADCAST_TOKEN, type Subjects } from "@herald/protocol";
import type { Logger } from "@herald/service-kit";
import { GaplessFeed } from "./gapless-feed.js";
import { channelPage, type Delivery, type LiveFeeds } from "./live-feeds.js";
import type { PersistenceClient } from "./persistence-client.js";

export type BroadcastDeps = {
  s: Subjects;
  channelFeeds: LiveFeeds<Delivery>;
  persistence: PersistenceClient;
  /** Sends one broadcast to every authenticated connection; returns how many it went to. */
  sendToAll: (frame: string | Buffer) => number;
  pageSize: number;
  logger: Logger;
};

/** Broadcasts go to every authenticated connection here, in order, gaps filled from the broadcast stream. */
export class Broadcast {
  private readonly feed: GaplessFeed<Delivery>;
  private unfollow: (() => void) | undefined;

  constructor(private readonly deps: BroadcastDeps) {
    this.feed = new GaplessFeed<Delivery>({
      replay: async (after, limit) =>
        channelPage(await deps.persistence.channelReplay(BROADCAST_CHANNEL, after, limit), BROADCAST_CHANNEL),
      deliver: (delivery) => deps.sendToAll(delivery.frame),
      room: () => Number.MAX_SAFE_INTEGER,
      pageSize: deps.pageSize,
      retries: deps.persistence.retries,
      logger: deps.logger.child({ component: "broadcast" }),
    });
  }

  start(): void {
    const subject = this.deps.s.channelLive(BROADCAST_RETENTION.id, BROADCAST_TOKEN);
    const listener = { push: (delivery: Delivery) => this.feed.push(delivery) };
    this.deps.channelFeeds.follow(subject, BROADCAST_CHANNEL, listener);
    this.unfollow = () => this.deps.channelFeeds.unfollow(subject, listener);
    this.feed.start();
  }

  resync(): void {
    this.feed.resync();
  }

  close(): void {
    this.unfollow?.();
    this.feed.close();
  }
}
