import {
  Counter,
  Gauge,
  LatencyHistogram,
  type Registry,
  STORE_LAG_BUCKETS,
  secondsSinceStored,
} from "@herald/service-kit";
import type { Msg } from "@nats-io/transport-node";
import type { Delivery } from "./live-feeds.js";

export type ConnectorMetrics = ReturnType<typeof createConnectorMetrics>;

/** The connector's own metrics; `sizes` are read at each scrape. */
export function createConnectorMetrics(
  metrics: Registry,
  sizes: { followedUsers: () => number; bufferedBytes: () => number },
) {
  new Gauge({
    name: "herald_connector_followed_users",
    help: "Users with a live subscription on this connector",
    registers: [metrics],
    collect() {
      this.set(sizes.followedUsers());
    },
  });
  new Gauge({
    name: "herald_connector_buffered_bytes",
    help: "Bytes waiting in the send buffers of this connector's sockets (an upper bound between sends)",
    registers: [metrics],
    collect() {
      this.set(sizes.bufferedBytes());
    },
  });
  return {
    liveLag: new LatencyHistogram({
      name: "herald_connector_live_lag_seconds",
      help: "From the stream storing a message (a user's mailbox, a channel's intake) to this connector receiving its live copy, by kind (includes any clock offset between nats-server's host and this one)",
      labelNames: ["kind"],
      buckets: STORE_LAG_BUCKETS,
      registers: [metrics],
    }),
    connections: new Gauge({
      name: "herald_connector_connections",
      help: "Open client connections",
      registers: [metrics],
    }),
    delivered: new Counter({
      name: "herald_connector_messages_sent_total",
      help: "Message frames sent to clients",
      labelNames: ["kind"],
      registers: [metrics],
    }),
    acks: new Counter({
      name: "herald_connector_acks_total",
      help: "Message ids acked by clients",
      registers: [metrics],
    }),
    slow: new Counter({
      name: "herald_connector_slow_consumer_closes_total",
      help: "Connections closed because their send buffer was full",
      registers: [metrics],
    }),
    refused: new Counter({
      name: "herald_connector_auth_refused_total",
      help: "Connections refused at the upgrade (bad token, limits)",
      labelNames: ["reason"],
      registers: [metrics],
    }),
  };
}

/** A live-message parser that also times each message once, whatever the number of its listeners. */
export function timedParse(
  parse: (msg: Msg, key: string) => Delivery | undefined,
  liveLag: ConnectorMetrics["liveLag"],
  kind: "user" | "channel",
): (msg: Msg, key: string) => Delivery | undefined {
  return (msg, key) => {
    const delivery = parse(msg, key);
    // The exemplar names the message's trace (its publisher's or the router's route span).
    if (delivery) liveLag.observe(secondsSinceStored(delivery.ts), { kind }, delivery.trace);
    return delivery;
  };
}
