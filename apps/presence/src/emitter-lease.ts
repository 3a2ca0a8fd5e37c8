import type { Subjects } from "@herald/protocol";
import { Lease, type Logger } from "@herald/service-kit";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Config } from "./config.js";

const LEASE_KEY = "emitter";

/** The lease whose holder publishes online/offline events, in presence's own bucket. */
export function createEmitterLease(
  nc: NatsConnection,
  config: Config,
  s: Subjects,
  options: { replicaId: string; log: Logger; onChange: () => void },
): Lease {
  let warned = false;
  return new Lease({
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
    holderId: options.replicaId,
    ttlMs: config.PRESENCE_LEASE_TTL,
    renewMs: config.PRESENCE_LEASE_RENEW,
    onChange: (held) => {
      options.log.info({ held }, held ? "emitter lease acquired" : "emitter lease lost");
      options.onChange();
    },
    onError: (err) => {
      if (!warned) options.log.warn({ err, bucket: s.buckets.presence }, "lease round failed; retrying");
      warned = true;
    },
  });
}
