import type { Subjects } from "@herald/protocol";
import { Lease, type Logger, type Nats } from "@herald/service-kit";
import { Kvm } from "@nats-io/kv";
import type { Config } from "./config.js";

/** The router's lease in the shared leases bucket: its holder routes, the other replicas stand by. */
export function createRouterLease(nats: Nats, config: Config, s: Subjects, logger: Logger): Lease {
  return new Lease({
    open: () => new Kvm(nats.js).create(s.buckets.leases, { history: 1, replicas: config.HERALD_REPLICAS }),
    key: "router",
    holderId: config.ROUTER_REPLICA_ID,
    ttlMs: config.ROUTER_LEASE_TTL,
    // Five renewals per TTL: a holder starved of CPU for most of a second still renews in time (it counts as
    // holding only until TTL less one renewal), and a standby notices a dead holder within a fifth of the TTL.
    renewMs: Math.max(250, Math.floor(config.ROUTER_LEASE_TTL / 5)),
    onChange: (held) =>
      logger.info({ held }, held ? "router lease acquired: routing" : "router lease lost: standing by"),
    onError: (err) => logger.warn({ err }, "router lease round failed"),
  });
}
