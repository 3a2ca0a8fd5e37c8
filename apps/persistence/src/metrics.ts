import { Counter, type Registry } from "@herald/service-kit";

/** Persistence's own metrics, registered on the service's registry. */
export function createPersistenceMetrics(registry: Registry) {
  return {
    acksApplied: new Counter({
      name: "herald_persistence_acks_applied_total",
      help: "Client acks applied to device cursors",
      registers: [registry],
    }),
    receipts: new Counter({
      name: "herald_persistence_receipts_total",
      help: "Receipts published on <p>.receipt.<userToken>, one per applied ack",
      registers: [registry],
    }),
    replays: new Counter({
      name: "herald_persistence_replay_pages_total",
      help: "Replay pages served",
      registers: [registry],
    }),
    staleReplays: new Counter({
      name: "herald_persistence_replay_requests_dropped_total",
      help: "Replay requests dropped unanswered after waiting longer than the asker's retry (it asked again)",
      registers: [registry],
    }),
    unsendable: new Counter({
      name: "herald_persistence_unsendable_messages_total",
      help: "Stored messages passed over in replay because no reply can carry them (too big or too deep)",
      registers: [registry],
    }),
    gaps: new Counter({
      name: "herald_persistence_gaps_total",
      help: "Devices told on replay that retention removed messages they had not acked",
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: "herald_persistence_dead_letters_total",
      help: "Mailbox entries found invalid when read, dead-lettered and skipped",
      labelNames: ["reason"],
      registers: [registry],
    }),
  };
}
export type PersistenceMetrics = ReturnType<typeof createPersistenceMetrics>;
