import { subjects } from "@herald/protocol";
import { createHandlerGuard, logStreamWait, type ServiceDeps } from "@herald/service-kit";
import type { Config } from "./config.js";
import { waitForRouterStreams } from "./intake-consumer.js";
import type { LaneRouter } from "./lane-router.js";
import { LaneSet } from "./lane-set.js";
import { LaneShare } from "./lane-share.js";
import { liveRouters, renewMs } from "./leadership.js";
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
  const live = liveRouters(nats, config, s, logger);
  const share = new LaneShare(live, renewMs(config));
  const lanes = (): readonly LaneRouter[] => set.all;
  const routerMetrics = createRouterMetrics(deps.metrics, {
    inflight: () => lanes().reduce((sum, lane) => sum + lane.size, 0),
    lanes: () => lanes().length,
    lanesRouted: () => lanes().filter((lane) => lane.routing()).length,
  });
  const guard = createHandlerGuard(logger, deps.metrics);
  const set = new LaneSet({ ...deps, logger, s, guard, routerMetrics, share, signal: abort.signal });
  let state = "not started";
  let following: Promise<void> | undefined;

  async function run(): Promise<void> {
    state = "waiting for streams";
    const logWait = logStreamWait(logger);
    await waitForRouterStreams(nats, s, abort.signal, (missing, reason, err) => {
      state = `waiting for stream ${missing}: ${reason}`;
      logWait(missing, reason, err);
    });
    if (abort.signal.aborted) return;
    live.start();
    share.start();
    state = "reading the intake's partitions";
    await new Promise<void>((known) => {
      following = set.follow(() => {
        state = "running";
        known();
      });
      void following.then(() => known());
    });
  }

  let started: Promise<void> | undefined;
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
      await following;
      // Every lane finishes what it holds and deletes its lease key, so the others take over at once.
      await set.stop();
      await live.stop();
      state = "stopped";
      logger.info("router drained");
    },

    isLeader() {
      return lanes().some((lane) => lane.routing());
    },

    routedLanes() {
      return lanes()
        .filter((lane) => lane.routing())
        .map((lane) => lane.intake.lane);
    },

    notReadyReason() {
      if (state !== "running") return state;
      const stuck = lanes().find((lane) => !["consuming", "standby"].includes(lane.intake.state));
      if (stuck) return `${stuck.intake.lane}: ${stuck.intake.state}`;
      return nats.connected() ? undefined : "NATS is not connected";
    },
  };
}
