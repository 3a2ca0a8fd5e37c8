import { type Subjects, userToken } from "@herald/protocol";
import type { Logger } from "@herald/service-kit";
import type { AckPublisher } from "./ack-publisher.js";
import type { Identity } from "./auth.js";
import type { Delivery, LiveFeeds } from "./live-feeds.js";
import type { PersistenceClient } from "./persistence-client.js";
import { Session } from "./session.js";

export type MailboxDeliveryDeps = {
  s: Subjects;
  feeds: LiveFeeds<Delivery>;
  persistence: PersistenceClient;
  acks: AckPublisher;
  maxInflight: number;
  ackTimeoutMs: number;
  replayPage: number;
  logger: Logger;
  onDelivered: (count: number, resent: boolean) => void;
};

/** Builds each connection's session: its user's live subject, its device's replay, acks into the shared bundles. */
export function mailboxDelivery(
  deps: MailboxDeliveryDeps,
): (identity: Identity, send: (frame: string | Buffer) => boolean) => Session {
  return ({ userId, deviceId }, send) =>
    new Session({
      userId,
      deviceId,
      follow: (listener, onUnreadable) =>
        deps.feeds.follow(deps.s.live(userToken(userId)), userId, listener, onUnreadable),
      replay: (after, limit) => deps.persistence.replay(userId, deviceId, after, limit),
      publishAcks: (acks) => deps.acks.publish(userId, deviceId, acks),
      send,
      maxInflight: deps.maxInflight,
      ackTimeoutMs: deps.ackTimeoutMs,
      replayPage: deps.replayPage,
      logger: deps.logger,
      onDelivered: deps.onDelivered,
    });
}
