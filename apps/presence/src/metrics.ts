import { Counter, Gauge, type Registry as MetricsRegistry } from "@herald/service-kit";
import type { Registry } from "./registry.js";

export type PresenceMetrics = ReturnType<typeof createPresenceMetrics>;

/** Gauges read the registry at scrape time, so the hot path only bumps counters. */
function registerPresenceGauges(metrics: MetricsRegistry, registry: Registry, isLeader: () => boolean): void {
  const registers = [metrics];
  new Gauge({
    name: "herald_presence_users",
    help: "Users with at least one connection",
    registers,
    collect() {
      this.set(registry.userCount);
    },
  });
  new Gauge({
    name: "herald_presence_connections",
    help: "Tracked connections",
    registers,
    collect() {
      this.set(registry.connectionTotal);
    },
  });
  new Gauge({
    name: "herald_presence_connectors",
    help: "Connectors heard from within the timeout",
    registers,
    collect() {
      this.set(registry.connectorCount);
    },
  });
  new Gauge({
    name: "herald_presence_emitter",
    help: "1 while this replica holds the lease and publishes presence events",
    registers,
    collect() {
      this.set(isLeader() ? 1 : 0);
    },
  });
}

export function createPresenceMetrics(metrics: MetricsRegistry, registry: Registry, isLeader: () => boolean) {
  registerPresenceGauges(metrics, registry, isLeader);
  const registers = [metrics];
  return {
    events: new Counter({
      name: "herald_presence_events_total",
      help: "Presence events published by this replica",
      labelNames: ["type"] as const,
      registers,
    }),
    reports: new Counter({
      name: "herald_presence_reports_total",
      help: "Connector reports received",
      labelNames: ["type"] as const,
      registers,
    }),
    unchangedParts: new Counter({
      name: "herald_presence_heartbeat_parts_unchanged_total",
      help: "Heartbeat parts applied from their digest alone (identical to the previous one, nothing parsed)",
      registers,
    }),
    invalidReports: new Counter({
      name: "herald_presence_reports_invalid_total",
      help: "Connector reports dropped as malformed",
      registers,
    }),
    gaps: new Counter({
      name: "herald_presence_report_gaps_total",
      help: "Lost connector reports noticed by a seq gap (a full heartbeat was requested)",
      registers,
    }),
    beatMismatches: new Counter({
      name: "herald_presence_beat_mismatches_total",
      help: "Connector beats whose digest differed from what this replica holds (a full heartbeat was requested)",
      registers,
    }),
    expired: new Counter({
      name: "herald_presence_connectors_expired_total",
      help: "Connectors declared dead after PRESENCE_CONNECTOR_TIMEOUT of silence",
      registers,
    }),
    limitDisconnects: new Counter({
      name: "herald_presence_limit_disconnects_total",
      help: "Disconnect commands published for users over PRESENCE_MAX_CONNECTIONS_PER_USER",
      registers,
    }),
    queries: new Counter({
      name: "herald_presence_queries_total",
      help: "Presence API requests answered",
      labelNames: ["api"] as const,
      registers,
    }),
  };
}
