import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  type AckBundle,
  type AckedMessage,
  BROADCAST_CHANNEL,
  BROADCAST_RETENTION,
  BROADCAST_TOKEN,
  type ChannelReplayReply,
  CloseCode,
  channelReplayReplySchema,
  isApiError,
  type ReplayReply,
  replayReplySchema,
  subjects,
  userToken,
} from "@herald/protocol";
import {
  Counter,
  createHandlerGuard,
  delay,
  Gauge,
  LatencyHistogram,
  type Logger,
  type Nats,
  type Registry,
  runGuarded,
  STORE_LAG_BUCKETS,
  secondsSinceStored,
  waitForStreams,
} from "@herald/service-kit";
import type { Msg, Subscription } from "@nats-io/transport-node";
import { AckBundler } from "./ack-bundler.js";
import { createVerifier, type Verifier } from "./auth.js";
import { ChannelSubscriptions } from "./channel-subscriptions.js";
import { type Config, proxyTrust } from "./config.js";
import { Connection } from "./connection.js";
import { followControl } from "./control.js";
import { GaplessFeed } from "./gapless-feed.js";
import { channelPage, type Delivery, LiveFeeds, parseChannelLive, parseUserLive } from "./live-feeds.js";
import { PresenceReporter } from "./presence-reporter.js";
import { SendBudget } from "./send-budget.js";
import { Session } from "./session.js";
import { createWsServer } from "./ws-server.js";

export type ConnectorDeps = {
  nats: Nats;
  config: Config;
  logger: Logger;
  metrics: Registry;
  verify?: Verifier;
};

/** The WebSocket gateway: authenticates clients, delivers their users' messages and forwards their acks. */
export function createConnector({ nats, config, logger, metrics, verify }: ConnectorDeps) {
  const s = subjects(config.HERALD_PREFIX);
  const encoder = new TextEncoder();
  const liveLag = new LatencyHistogram({
    name: "herald_connector_live_lag_seconds",
    help: "From the stream storing a message (a user's mailbox, a channel's intake) to this connector receiving its live copy, by kind (includes any clock offset between nats-server's host and this one)",
    labelNames: ["kind"],
    buckets: STORE_LAG_BUCKETS,
    registers: [metrics],
  });
  /** Times each live message once, whatever the number of its listeners. */
  function observed(
    parse: (msg: Msg, key: string) => Delivery | undefined,
    kind: "user" | "channel",
  ): (msg: Msg, key: string) => Delivery | undefined {
    return (msg, key) => {
      const delivery = parse(msg, key);
      // The exemplar names the message's trace (its publisher's or the router's write span).
      if (delivery) liveLag.observe(secondsSinceStored(delivery.ts), { kind }, delivery.trace);
      return delivery;
    };
  }
  const guard = createHandlerGuard(logger, metrics);
  const feeds = new LiveFeeds<Delivery>(nats.nc, observed(parseUserLive, "user"), guard);
  const channelFeeds = new LiveFeeds<Delivery>(nats.nc, observed(parseChannelLive, "channel"), guard);
  const presence = new PresenceReporter(
    nats.nc,
    s,
    config.CONNECTOR_ID,
    config.PRESENCE_HEARTBEAT_INTERVAL,
    guard,
  );
  const connections = new Set<Connection>();
  const abort = new AbortController();
  let streamsReady = false;
  let accepting = true;
  let server: Server | undefined;
  const timers: NodeJS.Timeout[] = [];
  let control: Subscription | undefined;

  const m = {
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
  new Gauge({
    name: "herald_connector_followed_users",
    help: "Users with a live subscription on this connector",
    registers: [metrics],
    collect() {
      this.set(feeds.size);
    },
  });

  const verifier =
    verify ??
    createVerifier({
      secret: config.HERALD_JWT_SECRET,
      secrets: config.HERALD_JWT_SECRETS,
      jwksUrl: config.HERALD_JWKS_URL,
      jwksCooldownMs: config.HERALD_JWKS_COOLDOWN,
      jwksCacheMaxAgeMs: config.HERALD_JWKS_CACHE_MAX_AGE,
      jwksMaxStaleMs: config.HERALD_JWKS_MAX_STALE,
      issuer: config.HERALD_JWT_ISSUER,
      audience: config.HERALD_JWT_AUDIENCE,
      maxLifetimeMs: config.HERALD_MAX_TOKEN_LIFETIME,
    });
  const sendBudget = new SendBudget({
    perUser: config.HERALD_MAX_BUFFERED_BYTES_PER_USER,
    total: config.HERALD_MAX_BUFFERED_BYTES_TOTAL,
  });
  new Gauge({
    name: "herald_connector_buffered_bytes",
    help: "Bytes waiting in the send buffers of this connector's sockets (an upper bound between sends)",
    registers: [metrics],
    collect() {
      this.set(sendBudget.bufferedBytes);
    },
  });

  async function replay(
    userId: string,
    deviceId: string,
    after: number | undefined,
    limit: number,
  ): Promise<ReplayReply> {
    const request = { userId, deviceId, limit, ...(after === undefined ? {} : { after }) };
    const reply = await nats.nc.request(s.replay, encoder.encode(JSON.stringify(request)), {
      timeout: 10_000,
    });
    const body: unknown = reply.json();
    if (isApiError(body)) throw new Error(`replay refused: ${body.error.code}: ${body.error.message}`);
    return replayReplySchema.parse(body);
  }

  /** Acks of every session, written together every few milliseconds, retried through short NATS outages. */
  const ackBundler = new AckBundler({
    delayMs: 5,
    maxAcks: 2_000,
    publish: async (batches) => {
      const bundle: AckBundle = { batches };
      const payload = encoder.encode(JSON.stringify(bundle));
      for (let attempt = 0; ; attempt++) {
        try {
          await nats.publisher.publish(s.ack(config.CONNECTOR_ID), payload);
          m.acks.inc(batches.reduce((sum, b) => sum + b.acks.length, 0));
          return;
        } catch (err) {
          if (attempt >= 8 || abort.signal.aborted) throw err;
          await delay(Math.min(5_000, 250 * 2 ** attempt), abort.signal);
        }
      }
    },
  });

  function publishAcks(userId: string, deviceId: string, acks: AckedMessage[]): Promise<void> {
    return ackBundler.add({ userId, deviceId, acks, at: Date.now() });
  }

  async function channelReplay(
    channel: string,
    since: number | undefined,
    limit: number,
  ): Promise<ChannelReplayReply> {
    const request = { channel, limit, ...(since === undefined ? {} : { since }) };
    const reply = await nats.nc.request(s.channelReplay, encoder.encode(JSON.stringify(request)), {
      timeout: 10_000,
    });
    const body: unknown = reply.json();
    if (isApiError(body))
      throw new Error(`channel replay refused: ${body.error.code}: ${body.error.message}`);
    return channelReplayReplySchema.parse(body);
  }

  const channelDeps = {
    feeds: channelFeeds,
    s,
    groups: config.HERALD_CHANNEL_RETENTION,
    replay: channelReplay,
    verify: verifier,
    maxSubscriptions: config.HERALD_MAX_SUBSCRIPTIONS,
    pageSize: config.HERALD_REPLAY_PAGE,
    logger,
  };

  /** Broadcasts go to every authenticated connection here, in order, gaps filled from the broadcast stream. */
  const broadcast = new GaplessFeed<Delivery>({
    replay: async (after, limit) => {
      return channelPage(await channelReplay(BROADCAST_CHANNEL, after, limit), BROADCAST_CHANNEL);
    },
    deliver: (delivery) => {
      for (const c of connections) if (c.identity) c.send(delivery.frame);
      m.delivered.inc({ kind: "broadcast" }, connections.size);
    },
    room: () => Number.MAX_SAFE_INTEGER,
    pageSize: config.HERALD_REPLAY_PAGE,
    logger: logger.child({ component: "broadcast" }),
  });
  let stopBroadcast: (() => void) | undefined;

  function createSession(
    identity: { userId: string; deviceId: string },
    send: (frame: string | Buffer) => boolean,
  ): Session {
    const { userId, deviceId } = identity;
    return new Session({
      userId,
      deviceId,
      follow: (listener, onUnreadable) =>
        feeds.follow(s.live(userToken(userId)), userId, listener, onUnreadable),
      replay: (after, limit) => replay(userId, deviceId, after, limit),
      publishAcks: (acks) => publishAcks(userId, deviceId, acks),
      send,
      maxInflight: config.HERALD_MAX_INFLIGHT,
      ackTimeoutMs: config.HERALD_ACK_TIMEOUT,
      replayPage: config.HERALD_REPLAY_PAGE,
      logger,
      onDelivered: (count, resent) => m.delivered.inc({ kind: resent ? "resent" : "first" }, count),
    });
  }

  async function start(): Promise<{ port: number; connectorId: string }> {
    await waitForStreams(nats.jsm, [s.streams.mailbox, s.streams.acks], abort.signal, (name) =>
      logger.info({ stream: name }, "waiting for persistence to create stream"),
    );
    streamsReady = true;
    server = createWsServer({
      verify: verifier,
      maxFrameBytes: config.HERALD_MAX_FRAME_BYTES,
      accepting: () => accepting,
      onRefused: (reason) => m.refused.inc({ reason }),
      maxConnectionsPerIp: config.HERALD_MAX_CONNECTIONS_PER_IP,
      maxNewConnectionsPerSecond: config.HERALD_MAX_NEW_CONNECTIONS_PER_SECOND,
      proxyTrust: proxyTrust(config),
      headersTimeoutMs: config.HERALD_HEADERS_TIMEOUT,
      requestTimeoutMs: config.HERALD_REQUEST_TIMEOUT,
      onConnection: (ws, identity) => {
        const connection = new Connection(
          ws,
          {
            verify: verifier,
            handshakeTimeoutMs: config.HERALD_HANDSHAKE_TIMEOUT,
            maxBufferedBytes: config.HERALD_MAX_BUFFERED_BYTES,
            sendBudget,
            logger,
            createSession,
            createChannels: (identity, send) => new ChannelSubscriptions(channelDeps, identity, send),
            rateLimit: { perSecond: config.HERALD_RATE_LIMIT, burst: config.HERALD_RATE_BURST },
            onOpen: (c) => {
              m.connections.inc();
              presence.opened({
                connectionId: c.connectionId,
                userId: c.identity!.userId,
                deviceId: c.identity!.deviceId,
                since: c.openedAt,
              });
            },
            onClose: (c) => {
              m.connections.dec();
              presence.closed(c.connectionId);
            },
            onSlowConsumer: () => m.slow.inc(),
          },
          identity,
        );
        connections.add(connection);
        ws.once("close", () => connections.delete(connection));
      },
    });
    presence.start();
    stopBroadcast = channelFeeds.follow(
      s.channelLive(BROADCAST_RETENTION.id, BROADCAST_TOKEN),
      BROADCAST_CHANNEL,
      (delivery) => broadcast.push(delivery),
    );
    broadcast.start();
    control = followControl(nats.nc, s, () => connections, guard);
    void resyncOnReconnect();
    timers.push(setInterval(() => runGuarded(guard, "ping", pingAll), config.HERALD_PING_INTERVAL));
    const resendEvery = Math.max(200, Math.min(5_000, config.HERALD_ACK_TIMEOUT / 4));
    timers.push(setInterval(() => runGuarded(guard, "resend", resendAll), resendEvery));
    const srv = server;
    await new Promise<void>((resolve, reject) => {
      srv.once("error", reject);
      srv.listen(config.PORT, "0.0.0.0", () => resolve());
    });
    return { port: (srv.address() as AddressInfo).port, connectorId: config.CONNECTOR_ID };
  }

  /** Live messages published while NATS was unreachable never arrive: every session catches up instead. */
  async function resyncOnReconnect(): Promise<void> {
    for await (const status of nats.nc.status()) {
      if (status.type !== "reconnect") continue;
      logger.info({ connections: connections.size }, "nats reconnected; resyncing sessions");
      runGuarded(guard, "resync", () => {
        for (const c of connections) {
          c.session?.resync();
          c.channels?.resync();
        }
        broadcast.resync();
      });
    }
  }

  function pingAll(): void {
    for (const c of connections) {
      if (!c.alive) {
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }

  function resendAll(): void {
    const now = Date.now();
    for (const c of connections) c.session?.resendOverdue(now);
  }

  /** Ordered drain: refuse new sockets, tell clients to go elsewhere (1001), stop reporting presence. */
  async function stop(): Promise<void> {
    accepting = false;
    abort.abort();
    control?.unsubscribe();
    stopBroadcast?.();
    broadcast.close();
    for (const timer of timers) clearInterval(timer);
    for (const c of connections) c.close(CloseCode.GoingAway, "server shutting down; reconnect");
    const deadline = Date.now() + 5_000;
    while (connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const c of connections) c.ws.terminate();
    await ackBundler.flush().catch((err: unknown) => logger.warn({ err }, "could not write the last acks"));
    presence.stop();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  function notReadyReason(): string | undefined {
    if (!accepting) return "draining";
    if (!nats.connected()) return "nats disconnected";
    if (!streamsReady) return "waiting for streams";
    return undefined;
  }

  return { start, stop, notReadyReason };
}
