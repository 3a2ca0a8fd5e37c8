import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { subjects } from "@herald/protocol";
import { createHandlerGuard, runGuarded, type ServiceDeps, subscribeGuarded } from "@herald/service-kit";
import type { Msg, Subscription } from "@nats-io/transport-node";
import type { Config } from "./config.js";
import { ConnectorSync } from "./connector-sync.js";
import { createEmitterLease } from "./emitter-lease.js";
import { followEvent } from "./event-follower.js";
import { Housekeeping } from "./housekeeping.js";
import { serveQueries } from "./query-server.js";
import { createReportApplier } from "./report-applier.js";
import { ReportQueue } from "./report-queue.js";
import { createView } from "./view.js";

/**
 * The presence service: every replica follows every connector's reports (no queue group) and holds the full
 * registry; queries are spread over replicas by the `presence` queue group; one replica at a time, the holder
 * of a lease in the `<P>_presence` bucket, publishes online/offline events.
 */
export function createPresence({ nats, config, logger, metrics }: ServiceDeps<Config>) {
  const s = subjects(config.HERALD_PREFIX);
  const { nc } = nats;
  const replicaId = config.PRESENCE_REPLICA_ID ?? `${hostname()}-${randomBytes(4).toString("hex")}`;
  const now = () => performance.now();
  const log = logger.child({ component: "presence", replicaId });
  const abort = new AbortController();
  const guard = createHandlerGuard(log, metrics);
  const subscriptions: Subscription[] = [];
  const tick = () => runGuarded(guard, "tick", () => housekeeping.tick());

  const onGap = (connectorId: string) => sync.requestSyncOf(connectorId, "gap");
  const onMismatch = (connectorId: string) => sync.requestSyncOf(connectorId, "mismatch");
  const view = createView({ nc, s, config, guard, log, metrics, now, onGap, onMismatch });
  const applyReport = createReportApplier(s, view);
  // Reports are applied later, in slices: a failure there is caught per report, not in the NATS callback.
  const reports = new ReportQueue<Msg>((msg) => runGuarded(guard, "presence.report", () => applyReport(msg)));
  const lease = createEmitterLease(nc, config, s, { replicaId, log, onChange: tick });
  const leaseHeld = () => lease.held();
  const sync = new ConnectorSync({
    replicaId,
    view,
    log,
    waitMs: config.PRESENCE_SYNC_WAIT,
    signal: abort.signal,
    leaseHeld,
    onFirstSync: async () => {
      subscriptions.push(...serveQueries({ nc, s, guard, metrics: view.metrics, registry: view.registry }));
      // Answering is part of being ready: the subscriptions must have reached the server.
      await nc.flush().catch(() => {});
    },
    onSynced: () => housekeeping.tick(),
    now,
  });
  const housekeeping: Housekeeping = new Housekeeping({
    view,
    connected: () => nats.connected(),
    log,
    connectorTimeoutMs: config.PRESENCE_CONNECTOR_TIMEOUT,
    synced: () => sync.synced,
    leaseHeld,
    signal: abort.signal,
  });
  let ticker: NodeJS.Timeout | undefined;

  async function start(): Promise<void> {
    subscriptions.push(
      subscribeGuarded(nc, s.presenceReportAll, guard, "presence.report", (msg) =>
        reports.push(msg.subject, msg),
      ),
      subscribeGuarded(nc, s.presenceEventAll, guard, "presence.event", (msg) => followEvent(view.gate, msg)),
    );
    void sync.followReconnects(nc);
    ticker = setInterval(tick, housekeeping.everyMs);
    await nc.flush();
    await sync.sync("start");
    lease.start();
  }

  async function stop(): Promise<void> {
    abort.abort();
    clearInterval(ticker);
    reports.stop();
    view.gate.setEnabled(false);
    // Deleting the lease key lets another replica take over at its next check instead of after the TTL.
    await lease.stop();
    for (const sub of subscriptions) await sub.drain().catch(() => {});
  }

  function notReadyReason(): string | undefined {
    if (!nats.connected()) return "nats disconnected";
    if (!sync.synced) return "syncing with connectors";
    if (!lease.hasBucket) return "waiting for the lease bucket (JetStream)";
    return undefined;
  }

  const isEmitter = () => view.gate.isEnabled;
  return { start, stop, notReadyReason, replicaId, registry: view.registry, isEmitter };
}
