import { type Subjects, userToken } from "@herald/protocol";
import type { Logger } from "@herald/service-kit";
import type { AckPublisher } from "./ack-publisher.js";
import type { Identity } from "./auth.js";
import type { FrameSink } from "./frames.js";
import type { Delivery, LiveFeeds } from "./live-feeds.js";
import type { PersistenceClient } from "./persistence-client.js";
import { Session, type SessionDeps } from "./session.js";

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

/**
 * Builds each connection's session: its user's live subject, its device's replay, acks into the shared bundles.
 * The functions are made once here and shared by every session (each idle connection holds no closures for them).
 */
export function mailboxDelivery(
  deps: MailboxDeliveryDeps,
): (identity: Identity, client: FrameSink) => Session {
  const shared: SessionDeps = {
    follow: (userId, feed) => deps.feeds.follow(deps.s.live(userToken(userId)), userId, feed),
    unfollow: (userId, feed) => deps.feeds.unfollow(deps.s.live(userToken(userId)), feed),
    replay: (userId, deviceId, after, limit) => deps.persistence.replay(userId, deviceId, after, limit),
    publishAcks: (userId, deviceId, acks, receipt) => deps.acks.publish(userId, deviceId, acks, receipt),
    retries: deps.persistence.retries,
    maxInflight: deps.maxInflight,
    ackTimeoutMs: deps.ackTimeoutMs,
    replayPage: deps.replayPage,
    logger: deps.logger,
    onDelivered: deps.onDelivered,
  };
  return ({ userId, deviceId }, client) => new Session(shared, userId, deviceId, client);
}
