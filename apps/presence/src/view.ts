import type { Subjects } from "@herald/protocol";
import type { HandlerGuard, Logger, Registry as MetricsRegistry } from "@herald/service-kit";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Config } from "./config.js";
import { ConnectionLimit } from "./connection-limit.js";
import { EventGate } from "./event-gate.js";
import { createPresenceMetrics, type PresenceMetrics } from "./metrics.js";
import { Outbox } from "./outbox.js";
import { Registry } from "./registry.js";
import { ReportHandler } from "./report-handler.js";

/** This replica's view of who is connected, and what turns its changes into events and commands. */
export type View = {
  registry: Registry;
  /** Publishes online/offline transitions while this replica is the emitter. */
  gate: EventGate;
  handler: ReportHandler;
  limit: ConnectionLimit;
  outbox: Outbox;
  metrics: PresenceMetrics;
};

export type ViewDeps = {
  nc: NatsConnection;
  s: Subjects;
  config: Config;
  guard: HandlerGuard;
  log: Logger;
  metrics: MetricsRegistry;
  now: () => number;
  /** Reports of a connector were lost (a gap in its sequence numbers). */
  onGap: (connectorId: string) => void;
  /** A connector's beat did not match what this replica holds for it. */
  onMismatch: (connectorId: string) => void;
};

export function createView(deps: ViewDeps): View {
  const { nc, s, config, guard, log, metrics, now, onGap, onMismatch } = deps;
  const registry: Registry = new Registry((userId, online) => gate.transition(userId, online));
  const gate: EventGate = new EventGate(
    (event) => outbox.event(event),
    (userId) => registry.isOnline(userId),
  );
  const m = createPresenceMetrics(metrics, registry, () => gate.isEnabled);
  const outbox = new Outbox({ nc, s, guard, metrics: m, log });
  const handler = new ReportHandler(registry, { now, onGap, onMismatch });
  const limit = new ConnectionLimit(registry, {
    max: config.PRESENCE_MAX_CONNECTIONS_PER_USER,
    policy: config.PRESENCE_CONNECTION_LIMIT_POLICY,
    now,
  });
  return { registry, gate, handler, limit, outbox, metrics: m };
}
