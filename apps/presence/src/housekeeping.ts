import type { Logger } from "@herald/service-kit";
import type { View } from "./view.js";

export type HousekeepingDeps = {
  view: View;
  connected: () => boolean;
  log: Logger;
  /** A connector silent this long is gone. */
  connectorTimeoutMs: number;
  synced: () => boolean;
  leaseHeld: () => boolean;
  /** Aborts when presence stops. */
  signal: AbortSignal;
};

/** Periodic upkeep: expire silent connectors and follow the lease. Paused while NATS is down (our silence). */
export class Housekeeping {
  private wasConnected = true;

  constructor(private readonly deps: HousekeepingDeps) {}

  /** How often `tick` runs: often enough to notice a silent connector soon after its timeout. */
  get everyMs(): number {
    return Math.max(50, Math.min(250, this.deps.connectorTimeoutMs / 8));
  }

  tick(): void {
    const { deps } = this;
    const { handler, gate, limit, metrics } = deps.view;
    if (deps.signal.aborted) return;
    const connected = deps.connected();
    // Back from our own outage: the silence was ours, not the connectors' (a sync also does this, but a tick
    // may run before the reconnect status reaches it).
    if (connected && !this.wasConnected) handler.refreshAll();
    this.wasConnected = connected;
    if (connected) {
      for (const id of handler.expire(deps.connectorTimeoutMs)) {
        metrics.expired.inc();
        deps.log.warn({ connectorId: id }, "connector silent; its connections are removed");
      }
    }
    gate.setEnabled(connected && deps.synced() && deps.leaseHeld());
    limit.sweep();
  }
}
