import { Counter, Gauge, LatencyHistogram, type Registry, STORE_LAG_BUCKETS } from "@herald/service-kit";

/** The router's own metrics, registered on the service's registry. */
export function createRouterMetrics(
  registry: Registry,
  state: { inflight: () => number; lanes: () => number; lanesRouted: () => number },
) {
  return {
    routed: new Counter({
      name: "herald_router_routed_messages_total",
      help: "Intake messages written to every target mailbox, by subject kind",
      labelNames: ["target"] as const,
      registers: [registry],
    }),
    deliveries: new Counter({
      name: "herald_router_deliveries_total",
      help: "Mailbox writes; 'duplicate' ones were already stored (a retry or a repeated id)",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: "herald_router_dead_letters_total",
      help: "Intake messages rejected to the dead-letter stream, by reason",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    mailboxFull: new Counter({
      name: "herald_router_mailbox_full_total",
      help: "send.users copies refused by a mailbox at HERALD_MAX_BACKLOG, dead-lettered as mailbox_full",
      registers: [registry],
    }),
    retries: new Counter({
      name: "herald_router_retries_total",
      help: "Intake messages handed back (nak) after a failed write",
      registers: [registry],
    }),
    duration: new LatencyHistogram({
      name: "herald_router_routing_duration_seconds",
      help: "From receiving an intake message to its last mailbox PubAck",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    intakeLag: new LatencyHistogram({
      name: "herald_router_intake_lag_seconds",
      help: "From the intake stream storing a message to this router starting to route it (first deliveries; includes any clock offset between nats-server's host and this one)",
      buckets: STORE_LAG_BUCKETS,
      registers: [registry],
    }),
    inflight: new Gauge({
      name: "herald_router_inflight_messages",
      help: "Intake messages held by this replica (queued or being written)",
      registers: [registry],
      collect() {
        this.set(state.inflight());
      },
    }),
    lanesTotal: new Gauge({
      name: "herald_router_lanes",
      help: "Intake lanes there are (partitions, and the unpartitioned one): the same on every replica",
      registers: [registry],
      collect() {
        this.set(state.lanes());
      },
    }),
    lanes: new Gauge({
      name: "herald_router_lanes_routed",
      help: "Intake lanes (partitions, and the unpartitioned one) this replica routes now; summed over replicas it is the lane count",
      registers: [registry],
      collect() {
        this.set(state.lanesRouted());
      },
    }),
  };
}
export type RouterMetrics = ReturnType<typeof createRouterMetrics>;
