import { subjects } from "@herald/protocol";
import { createHandlerGuard, type ServiceDeps } from "@herald/service-kit";
import type { Config } from "./config.js";
import { waitForRouterStreams } from "./intake-consumer.js";
import { LaneRouter, type LaneRouterDeps } from "./lane-router.js";
import { LaneShare } from "./lane-share.js";
import { intakeLanes, intakePartitions } from "./lanes.js";
import { liveRouters } from "./leadership.js";
import { createRouterMetrics } from "./metrics.js";

export type Router = {
  /** Waits for the streams and starts every lane (each binds its consumer once its lease is taken). */
  start(): Promise<void>;
  /** Stops pulling, finishes (acks or naks) every message held, then resolves. */
  stop(): Promise<void>;
  notReadyReason(): string | undefined;
  /** True while this replica routes at least one lane of the intake. */
  isLeader(): boolean;
  /** The lanes this replica routes now (consumer names). */
  routedLanes(): string[];
};

/**
 * The router (architecture step 1). The intake is split into lanes (`lanes.ts`: the unpartitioned one and
 * one per partition); the live replicas share them (`LaneShare`), each lane routed by the one replica
 * holding its lease (`LaneRouter`), so a key's or channel's messages keep their order while routing grows
 * with replicas.
 */
export function createRouter(deps: ServiceDeps<Config>): Router {
  const { nats, config } = deps;
  const logger = deps.logger.child({ component: "router" });
  const s = subjects(config.HERALD_PREFIX);
  const abort = new AbortController();
  const guard = createHandlerGuard(logger, deps.metrics);
  const live = liveRouters(nats, config, s, logger);
  const share = new LaneShare(live, Math.max(250, Math.floor(config.ROUTER_LEASE_TTL / 5)));
  let lanes: LaneRouter[] = [];
  const routerMetrics = createRouterMetrics(deps.metrics, {
    inflight: () => lanes.reduce((sum, lane) => sum + lane.size, 0),
    lanes: () => lanes.length,
    lanesRouted: () => lanes.filter((lane) => lane.routing()).length,
  });
  let state = "not started";
  let started: Promise<void> | undefined;

  async function run(): Promise<void> {
    state = "waiting for streams";
    await waitForRouterStreams(nats, s, abort.signal, (missing) => {
      state = `waiting for stream ${missing}`;
      logger.info({ stream: missing }, "waiting for stream (persistence creates it)");
    });
    if (abort.signal.aborted) return;
    const partitions = await intakePartitions(nats.jsm, s);
    live.start();
    lanes = laneRouters({ ...deps, s, guard, routerMetrics, share, signal: abort.signal }, partitions);
    share.set(lanes.map((lane) => ({ held: () => lane.lease.held(), release: () => lane.release() })));
    share.start();
    for (const lane of lanes) lane.start();
    state = "running";
    logger.info({ partitions, lanes: lanes.length }, "sharing the intake's lanes with the other replicas");
  }

  return {
    start() {
      started ??= run();
      return started;
    },

    async stop() {
      if (abort.signal.aborted) return;
      state = "stopping";
      abort.abort();
      share.stop();
      await started?.catch(() => {});
      // Every lane finishes what it holds and deletes its lease key, so the others take over at once.
      await Promise.all(lanes.map((lane) => lane.stop()));
      await live.stop();
      state = "stopped";
      logger.info("router drained");
    },

    isLeader() {
      return lanes.some((lane) => lane.routing());
    },

    routedLanes() {
      return lanes.filter((lane) => lane.routing()).map((lane) => lane.intake.lane);
    },

    notReadyReason() {
      if (state !== "running") return state;
      const stuck = lanes.find((lane) => !["consuming", "standby"].includes(lane.intake.state));
      if (stuck) return `${stuck.intake.lane}: ${stuck.intake.state}`;
      return nats.connected() ? undefined : "NATS is not connected";
    },
  };
}

/** One `LaneRouter` per lane of an intake with `partitions` partitions, all taking lanes by the same share. */
function laneRouters(
  deps: Omit<LaneRouterDeps, "lane" | "unpartitioned" | "mayAcquire"> & { share: LaneShare },
  partitions: number,
): LaneRouter[] {
  const all = intakeLanes(deps.s, partitions);
  const [unpartitioned] = all;
  if (!unpartitioned) return [];
  const { share, ...rest } = deps;
  return all.map((lane) => new LaneRouter({ ...rest, lane, unpartitioned, mayAcquire: share.mayAcquire }));
}
