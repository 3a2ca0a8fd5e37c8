import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import {
  type DisconnectCommand,
  type PresenceEvent,
  type PresenceReport,
  type PresenceSync,
  subjects,
  userToken,
} from "@herald/protocol";
import {
  createHandlerGuard,
  delay,
  Lease,
  type Logger,
  type Registry as MetricsRegistry,
  type Nats,
  reportFailure,
  respondJson,
  runGuarded,
  serveJson,
  subscribeGuarded,
} from "@herald/service-kit";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { Msg, Subscription } from "@nats-io/transport-node";
import type { Config } from "./config.js";
import { ConnectionLimit } from "./connection-limit.js";
import { EventGate } from "./event-gate.js";
import { digestHeartbeat } from "./heartbeat-digest.js";
import { createPresenceMetrics } from "./metrics.js";
import { presenceGet } from "./queries.js";
import { Registry } from "./registry.js";
import { ReportHandler } from "./report-handler.js";
import { parseReport } from "./report-parser.js";
import { ReportQueue } from "./report-queue.js";

export type PresenceDeps = { nats: Nats; config: Config; logger: Logger; metrics: MetricsRegistry };

const LEASE_KEY = "emitter";
const encoder = new TextEncoder();

/**
 * The presence service: every replica follows every connector's reports (no queue group) and holds the full
 * registry; queries are spread over replicas by the `presence` queue group; one replica at a time, the holder
 * of a lease in the `<P>_presence` bucket, publishes online/offline events.
 */
export function createPresence({ nats, config, logger, metrics }: PresenceDeps) {
  const s = subjects(config.HERALD_PREFIX);
  const { nc } = nats;
  const replicaId = config.PRESENCE_REPLICA_ID ?? `${hostname()}-${randomBytes(4).toString("hex")}`;
  const now = () => performance.now();
  const log = logger.child({ component: "presence", replicaId });

  const registry: Registry = new Registry((userId, online) => gate.transition(userId, online));
  const gate = new EventGate(publishEvent, (userId) => registry.isOnline(userId));
  const handler = new ReportHandler(registry, { now, onGap: requestSyncOf });
  const guard = createHandlerGuard(log, metrics);
  // Reports are applied later, in slices: a failure there is caught per report, not in the NATS callback.
  const reports = new ReportQueue<Msg>((msg) => runGuarded(guard, "presence.report", () => applyReport(msg)));
  const limit = new ConnectionLimit(registry, {
    max: config.PRESENCE_MAX_CONNECTIONS_PER_USER,
    policy: config.PRESENCE_CONNECTION_LIMIT_POLICY,
    now,
  });
  let lease: Lease | undefined;
  const m = createPresenceMetrics(metrics, registry, () => gate.isEnabled);

  const subscriptions: Subscription[] = [];
  const lastGapSync = new Map<string, number>();
  const abort = new AbortController();
  let ticker: NodeJS.Timeout | undefined;
  let synced = false;
  let wasConnected = true;
  let everSynced = false;
  let syncGeneration = 0;

  async function start(): Promise<void> {
    subscriptions.push(
      subscribeGuarded(nc, s.presenceReportAll, guard, "presence.report", (msg) =>
        reports.push(msg.subject, msg),
      ),
      subscribeGuarded(nc, s.presenceEventAll, guard, "presence.event", onEvent),
    );
    void watchStatus();
    const tickEvery = Math.max(50, Math.min(250, config.PRESENCE_CONNECTOR_TIMEOUT / 8));
    ticker = setInterval(() => runGuarded(guard, "tick", tick), tickEvery);
    await nc.flush();
    await sync("start");
    startLease();
  }

  /** Asks every connector for a full heartbeat, then waits one interval before trusting the view. */
  async function sync(reason: string): Promise<void> {
    const generation = ++syncGeneration;
    synced = false;
    handler.refreshAll();
    publishSync({ replicaId });
    log.info({ reason, waitMs: config.PRESENCE_SYNC_WAIT }, "syncing with connectors");
    await delay(config.PRESENCE_SYNC_WAIT, abort.signal);
    if (generation !== syncGeneration || abort.signal.aborted) return;
    // A replica that does not hold the lease trusts that the emitter announced what it now sees; the lease
    // holder (back from a short outage) keeps its record and publishes the differences once synced.
    if (!(lease?.held() ?? false)) gate.resetBaseline();
    if (!everSynced) {
      everSynced = true;
      subscriptions.push(
        serveJson(nc, s.presenceGet, "presence", guard, async (request) => {
          m.queries.inc({ api: "get" });
          return presenceGet(registry, request);
        }),
        subscribeGuarded(nc, s.presenceCount, guard, s.presenceCount, onCount, { queue: "presence" }),
      );
      // Answering is part of being ready: the subscriptions must have reached the server.
      await nc.flush().catch(() => {});
    }
    if (generation !== syncGeneration || abort.signal.aborted) return;
    synced = true;
    log.info(
      {
        users: registry.userCount,
        connections: registry.connectionTotal,
        connectors: registry.connectorCount,
      },
      "synced",
    );
    tick();
  }

  function startLease(): void {
    let warned = false;
    lease = new Lease({
      // Presence owns this one small bucket (the exception to "persistence creates streams and buckets"):
      // created idempotently here, and again should it disappear.
      open: () =>
        // Own JetStream context: a lease request must fail within one renew period, not the 5 s default.
        new Kvm(jetstream(nc, { timeout: config.PRESENCE_LEASE_RENEW })).create(s.buckets.presence, {
          history: 1,
          storage: "file",
          replicas: config.HERALD_REPLICAS,
        }),
      key: LEASE_KEY,
      holderId: replicaId,
      ttlMs: config.PRESENCE_LEASE_TTL,
      renewMs: config.PRESENCE_LEASE_RENEW,
      onChange: (held) => {
        log.info({ held }, held ? "emitter lease acquired" : "emitter lease lost");
        runGuarded(guard, "tick", tick);
      },
      onError: (err) => {
        if (!warned) log.warn({ err, bucket: s.buckets.presence }, "lease round failed; retrying");
        warned = true;
      },
    });
    lease.start();
  }

  /** Housekeeping: expire silent connectors and follow the lease. Paused while NATS is down (our silence). */
  function tick(): void {
    if (abort.signal.aborted) return;
    const connected = nats.connected();
    // Back from our own outage: the silence was ours, not the connectors' (sync() also does this, but a tick
    // may run before the reconnect status reaches it).
    if (connected && !wasConnected) handler.refreshAll();
    wasConnected = connected;
    if (connected) {
      for (const id of handler.expire(config.PRESENCE_CONNECTOR_TIMEOUT)) {
        m.expired.inc();
        log.warn({ connectorId: id }, "connector silent; its connections are removed");
      }
    }
    gate.setEnabled(connected && synced && (lease?.held() ?? false));
    limit.sweep();
  }

  async function watchStatus(): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === "reconnect" && !abort.signal.aborted) void sync("nats reconnected");
    }
  }

  function applyReport(msg: Msg): void {
    // A large heartbeat part identical to the last one of its number is applied without parsing it.
    const digest = digestHeartbeat(msg.data);
    if (digest && msg.subject === s.presenceReport(digest.connectorId) && handler.handleUnchanged(digest)) {
      m.reports.inc({ type: "heartbeat" });
      m.unchangedParts.inc();
      return;
    }
    const report = readReport(msg);
    if (!report) {
      m.invalidReports.inc();
      return;
    }
    m.reports.inc({ type: report.type });
    handler.handle(report, digest?.digest);
    // Only the emitter enforces the limit, so one command goes out per excess connection.
    if (report.type === "open" && limit.enabled && gate.isEnabled) {
      for (const command of limit.check(report.connectorId, report.connection)) publishDisconnect(command);
    }
  }

  /** A core publish that never throws (a closed connection, a payload too big): the failure is reported. */
  function send(subject: string, body: unknown): boolean {
    try {
      nc.publish(subject, encoder.encode(JSON.stringify(body)));
      return true;
    } catch (err) {
      reportFailure(guard, "publish", err);
      return false;
    }
  }

  function publishDisconnect(command: DisconnectCommand): void {
    if (!send(s.controlDisconnect, command)) return;
    m.limitDisconnects.inc();
    log.info(command, "connection limit: disconnecting");
  }

  function readReport(msg: Msg): PresenceReport | undefined {
    let body: unknown;
    try {
      body = msg.json();
    } catch {
      return undefined;
    }
    // The subject names the connector; a report claiming another one is not trusted.
    return parseReport(body, (connectorId) => msg.subject === s.presenceReport(connectorId));
  }

  function onEvent(msg: Msg): void {
    let event: Partial<PresenceEvent>;
    try {
      event = msg.json();
    } catch {
      return;
    }
    if ((event.type === "online" || event.type === "offline") && typeof event.userId === "string") {
      gate.observe(event as PresenceEvent);
    }
  }

  /** Any body is accepted (backends send `{}` or nothing). */
  function onCount(msg: Msg): void {
    m.queries.inc({ api: "count" });
    respondJson(nc, msg, guard, s.presenceCount, registry.count());
  }

  function publishEvent(event: PresenceEvent): void {
    let subject: string;
    try {
      subject = s.presenceEvent(userToken(event.userId));
    } catch {
      return; // reports with an illegal user id are dropped before they reach the registry
    }
    if (send(subject, event)) m.events.inc({ type: event.type });
  }

  function publishSync(request: PresenceSync): void {
    if (!nc.isClosed()) send(s.presenceSync, request);
  }

  function requestSyncOf(connectorId: string): void {
    m.gaps.inc();
    const at = now();
    if (at - (lastGapSync.get(connectorId) ?? Number.NEGATIVE_INFINITY) < 1000) return;
    lastGapSync.set(connectorId, at);
    log.info({ connectorId }, "reports lost; asking the connector for a full heartbeat");
    publishSync({ replicaId, connectorId });
  }

  async function stop(): Promise<void> {
    abort.abort();
    clearInterval(ticker);
    reports.stop();
    gate.setEnabled(false);
    // Deleting the lease key lets another replica take over at its next check instead of after the TTL.
    await lease?.stop();
    for (const sub of subscriptions) await sub.drain().catch(() => {});
  }

  function notReadyReason(): string | undefined {
    if (!nats.connected()) return "nats disconnected";
    if (!synced) return "syncing with connectors";
    if (!lease?.hasBucket) return "waiting for the lease bucket (JetStream)";
    return undefined;
  }

  return { start, stop, notReadyReason, replicaId, registry, isEmitter: () => gate.isEnabled };
}
