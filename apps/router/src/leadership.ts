import type { Subjects } from "@herald/protocol";
import { Lease, LiveReplicas, type Logger, type Nats } from "@herald/service-kit";
import { Kvm } from "@nats-io/kv";
import type { Config } from "./config.js";

/** One lane's lease in the shared leases bucket: its holder routes the lane, the other replicas stand by. */
export function createRouterLease(
  nats: Nats,
  config: Config,
  s: Subjects,
  lane: { key: string; mayAcquire: () => boolean },
  logger: Logger,
): Lease {
  const { key, mayAcquire } = lane;
  return new Lease({
    open: () =>
      new Kvm(nats.js).create(s.buckets.leases, {
        history: 1,
        replicas: config.HERALD_REPLICAS,
      }),
    key,
    holderId: config.ROUTER_REPLICA_ID,
    ttlMs: config.ROUTER_LEASE_TTL,
    // Five renewals per TTL: a holder starved of CPU for most of a second still renews in time (it counts as
    // holding only until TTL less one renewal), and a standby notices a dead holder within a fifth of the TTL.
    renewMs: renewMs(config),
    mayAcquire,
    onChange: (held) =>
      logger.info(
        { held, lease: key },
        held ? "router lease acquired: routing" : "router lease lost: standing by",
      ),
    onError: (err) => logger.warn({ err, lease: key }, "router lease round failed"),
  });
}

/**
 * The router replicas alive now, by the same clock as the leases: a dead replica stops counting when its
 * leases expire. Keys vanish from the bucket a minute after their last renewal.
 */
export function liveRouters(nats: Nats, config: Config, s: Subjects, logger: Logger): LiveReplicas {
  return new LiveReplicas({
    open: () =>
      new Kvm(nats.js).create(s.buckets.routers, {
        history: 1,
        replicas: config.HERALD_REPLICAS,
        ttl: 60_000,
      }),
    id: config.ROUTER_REPLICA_ID,
    ttlMs: config.ROUTER_LEASE_TTL,
    renewMs: renewMs(config),
    onError: (err) => logger.warn({ err }, "router membership round failed"),
  });
}

/** How often a lease or membership key is renewed (and others looked at): a fifth of `ROUTER_LEASE_TTL`. */
export function renewMs(config: Config): number {
  return Math.max(250, Math.floor(config.ROUTER_LEASE_TTL / 5));
}
