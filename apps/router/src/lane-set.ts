import { sleep, sleepBackoff } from "@herald/service-kit";
import { LaneRouter, type LaneRouterDeps } from "./lane-router.js";
import type { LaneShare } from "./lane-share.js";
import { intakeLanes, intakePartitions } from "./lanes.js";

/** How often the intake's partition count is read again, so lanes added by persistence get routed. */
const PARTITIONS_POLL_MS = 10_000;
/** A failed read is tried again: doubling from 500 ms, at most 5 s. */
const READ_BACKOFF = { initialMs: 500, maxMs: 5_000 };

export type LaneSetDeps = Omit<LaneRouterDeps, "lane" | "unpartitioned" | "mayAcquire"> & {
  share: LaneShare;
};

/**
 * This replica's routers of the intake's lanes, one per lane, all taking lanes by the same share. It follows
 * the intake's partition count: when persistence raises `HERALD_ROUTE_PARTITIONS` (allowed only while the
 * partitions are empty), the new partitions' lanes start here without a restart. Lanes of a lowered count stay
 * and idle (nothing is stored there any more).
 */
export class LaneSet {
  private lanes: LaneRouter[] = [];
  private partitions: number | undefined;
  private lowered = false;

  constructor(private readonly deps: LaneSetDeps) {}

  get all(): readonly LaneRouter[] {
    return this.lanes;
  }

  /** Reads the partition count until it is known (then `onKnown`), and keeps following it until the signal aborts. */
  async follow(onKnown: () => void): Promise<void> {
    const { signal, logger, nats, s } = this.deps;
    for (let failures = 0; !signal.aborted; ) {
      try {
        const partitions = await intakePartitions(nats.jsm, s);
        // Stopping meanwhile: no lane may start after the set was asked to stop.
        if (signal.aborted) return;
        this.growTo(partitions);
        onKnown();
        failures = 0;
        await sleep(PARTITIONS_POLL_MS, signal);
      } catch (err) {
        if (signal.aborted) return;
        logger.warn({ err }, "could not read the intake's partitions; retrying");
        await sleepBackoff(failures++, READ_BACKOFF, signal);
      }
    }
  }

  /** Starts the lanes of a count higher than the one running (the first time, all of them). */
  growTo(partitions: number): void {
    const { share, ...rest } = this.deps;
    const running = this.partitions;
    if (running !== undefined && partitions <= running) {
      if (partitions < running && !this.lowered) {
        rest.logger.warn({ partitions, running }, "intake partitions lowered; the extra lanes idle");
        this.lowered = true;
      }
      return;
    }
    const all = intakeLanes(rest.s, partitions);
    const [unpartitioned] = all;
    if (!unpartitioned) return;
    const fresh = all
      .slice(this.lanes.length)
      .map((lane) => new LaneRouter({ ...rest, lane, unpartitioned, mayAcquire: share.mayAcquire }));
    this.lanes = [...this.lanes, ...fresh];
    this.partitions = partitions;
    share.set(this.lanes.map((lane) => ({ held: () => lane.lease.held(), release: () => lane.release() })));
    for (const lane of fresh) lane.start();
    rest.logger.info(
      { partitions, lanes: this.lanes.length, before: running },
      "sharing the intake's lanes with the other replicas",
    );
  }

  /** After the signal aborted: every lane finishes what it holds and frees its lease. */
  async stop(): Promise<void> {
    await Promise.all(this.lanes.map((lane) => lane.stop()));
  }
}
