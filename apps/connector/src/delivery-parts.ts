import type { Subjects } from "@herald/protocol";
import type { HandlerGuard } from "@herald/service-kit";
import { AckPublisher } from "./ack-publisher.js";
import type { ConnectorDeps } from "./app.js";
import type { Verifier } from "./auth.js";
import { Broadcast } from "./broadcast.js";
import { type ChannelDeps, ChannelSubscriptions } from "./channel-subscriptions.js";
import type { Connection, ConnectionDeps } from "./connection.js";
import type { Connections } from "./connections.js";
import { type ConnectorMetrics, createConnectorMetrics, timedParse } from "./connector-metrics.js";
import { LiveFeeds, parseChannelLive, parseUserLive } from "./live-feeds.js";
import { mailboxDelivery } from "./mailbox-delivery.js";
import { PersistenceClient } from "./persistence-client.js";
import { PresenceReporter } from "./presence-reporter.js";
import type { SendBudget } from "./send-budget.js";

/** What the edge shares with delivery. */
export type EdgeParts = {
  s: Subjects;
  guard: HandlerGuard;
  verifier: Verifier;
  sendBudget: SendBudget;
  connections: Connections;
};

/** What delivers to connections: live feeds, replays from persistence, acks back, broadcasts, presence. */
export function deliveryParts(
  deps: ConnectorDeps,
  { s, guard, verifier, sendBudget, connections }: EdgeParts,
) {
  const { nats, config, logger, metrics } = deps;
  const m = createConnectorMetrics(metrics, {
    followedUsers: () => feeds.size,
    bufferedBytes: () => sendBudget.bufferedBytes,
  });
  const feeds = new LiveFeeds(nats.nc, timedParse(parseUserLive, m.liveLag, "user"), guard);
  const channelFeeds = new LiveFeeds(nats.nc, timedParse(parseChannelLive, m.liveLag, "channel"), guard);
  const persistence = new PersistenceClient(nats.nc, s);
  const acks = new AckPublisher({
    publish: (payload) => nats.publisher.publish(s.ack(config.CONNECTOR_ID), payload),
    onStored: (count) => m.acks.inc(count),
    logger,
  });
  const broadcast = new Broadcast({
    s,
    channelFeeds,
    persistence,
    sendToAll: (frame) => {
      const count = connections.sendToAll(frame);
      m.delivered.inc({ kind: "broadcast" }, count);
      return count;
    },
    pageSize: config.HERALD_REPLAY_PAGE,
    logger,
  });
  // Bound once: a labelled `inc` hashes its labels on every call, and this one runs for every message.
  const firstCount = m.delivered.labels({ kind: "first" });
  const resentCount = m.delivered.labels({ kind: "resent" });
  const createSession = mailboxDelivery({
    s,
    feeds,
    persistence,
    acks,
    maxInflight: config.HERALD_MAX_INFLIGHT,
    ackTimeoutMs: config.HERALD_ACK_TIMEOUT,
    replayPage: config.HERALD_REPLAY_PAGE,
    logger,
    onDelivered: (count, resent) => (resent ? resentCount : firstCount).inc(count),
  });
  const channelDeps: ChannelDeps = {
    feeds: channelFeeds,
    s,
    groups: config.HERALD_CHANNEL_RETENTION,
    replay: (channel, since, limit) => persistence.channelReplay(channel, since, limit),
    verify: verifier,
    maxSubscriptions: config.HERALD_MAX_SUBSCRIPTIONS,
    pageSize: config.HERALD_REPLAY_PAGE,
    retries: persistence.retries,
    logger,
  };
  const createChannels: ConnectionDeps["createChannels"] = (identity, client) =>
    new ChannelSubscriptions(channelDeps, identity, client);
  const presence = new PresenceReporter(
    nats.nc,
    s,
    config.CONNECTOR_ID,
    config.PRESENCE_HEARTBEAT_INTERVAL,
    guard,
  );
  return { m, acks, broadcast, createSession, createChannels, presence, replayRetries: persistence.retries };
}

/** Each authenticated connection is counted and reported to presence from open to close. */
export function presenceHooks(presence: PresenceReporter, m: ConnectorMetrics) {
  return {
    onOpen: (c: Connection) => {
      m.connections.inc();
      // The connection itself, not a copy per connection: opened once authenticated, its fields never change.
      presence.opened(c);
    },
    onClose: (c: Connection) => {
      m.connections.dec();
      presence.closed(c.connectionId);
    },
    onSlowConsumer: () => m.slow.inc(),
  };
}
