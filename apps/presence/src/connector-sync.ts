import { type Logger, sleep } from "@herald/service-kit";
import type { NatsConnection } from "@nats-io/transport-node";
import type { View } from "./view.js";

export type ConnectorSyncDeps = {
  replicaId: string;
  view: View;
  log: Logger;
  /** How long connectors get to answer a sync request before the view is trusted. */
  waitMs: number;
  /** Aborts when presence stops. */
  signal: AbortSignal;
  leaseHeld: () => boolean;
  /** Runs once, after the first sync: presence answers queries only from then on. */
  onFirstSync: () => Promise<void>;
  onSynced: () => void;
  now: () => number;
};

/** The least time between two full-heartbeat requests to one connector after lost reports. */
const GAP_SYNC_EVERY_MS = 1000;

/** Builds this replica's view from the connectors: at start, after a reconnect, and after lost reports. */
export class ConnectorSync {
  /** True once the view is trusted (connectors had their time to answer the last sync). */
  synced = false;
  private everSynced = false;
  private generation = 0;
  private readonly lastGapSync = new Map<string, number>();

  constructor(private readonly deps: ConnectorSyncDeps) {}

  /** Asks every connector for a full heartbeat, then waits one interval before trusting the view. */
  async sync(reason: string): Promise<void> {
    const { deps } = this;
    const { view } = deps;
    const generation = ++this.generation;
    this.synced = false;
    view.handler.refreshAll();
    view.outbox.sync({ replicaId: deps.replicaId, beats: true });
    deps.log.info({ reason, waitMs: deps.waitMs }, "syncing with connectors");
    await sleep(deps.waitMs, deps.signal);
    if (this.superseded(generation)) return;
    // A replica that does not hold the lease trusts that the emitter announced what it now sees; the lease
    // holder (back from a short outage) keeps its record and publishes the differences once synced.
    if (!deps.leaseHeld()) view.gate.resetBaseline();
    if (!this.everSynced) {
      this.everSynced = true;
      await deps.onFirstSync();
    }
    if (this.superseded(generation)) return;
    this.synced = true;
    const { registry } = view;
    deps.log.info(
      {
        users: registry.userCount,
        connections: registry.connectionTotal,
        connectors: registry.connectorCount,
      },
      "synced",
    );
    deps.onSynced();
  }

  /**
   * Reports of `connectorId` were lost (a `seq` gap) or its beat does not match what this replica holds: ask it
   * alone for a full heartbeat (at most once a second).
   */
  requestSyncOf(connectorId: string, reason: "gap" | "mismatch"): void {
    const { deps } = this;
    // While a sync of every connector is under way their beats may overtake their full lists: not a mismatch.
    if (reason === "mismatch" && !this.synced) return;
    if (reason === "gap") deps.view.metrics.gaps.inc();
    else deps.view.metrics.beatMismatches.inc();
    const at = deps.now();
    if (at - (this.lastGapSync.get(connectorId) ?? Number.NEGATIVE_INFINITY) < GAP_SYNC_EVERY_MS) return;
    this.lastGapSync.set(connectorId, at);
    deps.log.info({ connectorId, reason }, "asking the connector for a full heartbeat");
    deps.view.outbox.sync({ replicaId: deps.replicaId, connectorId, beats: true });
  }

  /** Syncs again after each reconnect: reports sent meanwhile are lost. */
  async followReconnects(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === "reconnect" && !this.deps.signal.aborted) void this.sync("nats reconnected");
    }
  }

  private superseded(generation: number): boolean {
    return generation !== this.generation || this.deps.signal.aborted;
  }
}
