import type { Subjects } from "@herald/protocol";
import { type HandlerGuard, type Logger, runLeaderLoop, type ServiceDeps } from "@herald/service-kit";
import type { JsMsg } from "@nats-io/jetstream";
import type { Config } from "./config.js";
import { DestinationOrder, MIN_FENCE_GRACE_MS } from "./destination-order.js";
import { IntakeConsumer } from "./intake-consumer.js";
import { KeepAlive } from "./keep-alive.js";
import type { Lane } from "./lanes.js";
import { createRouterLease } from "./leadership.js";
import { mailboxFullHandler } from "./mailbox-full.js";
import type { RouterMetrics } from "./metrics.js";
import { OrderedPipeline } from "./pipeline.js";
import { prepareOptions } from "./prepare.js";
import { createRoute } from "./route.js";
import { settle } from "./settle.js";

/** The wait before binding again after a failed term: doubling from 500 ms, at most 5 s. */
const REBIND_BACKOFF = { initialMs: 500, maxMs: 5_000 };

export type LaneRouterDeps = ServiceDeps<Config> & {
  s: Subjects;
  lane: Lane;
  unpartitioned: Lane;
  guard: HandlerGuard;
  routerMetrics: RouterMetrics;
  /** Asked before taking this lane's lease: false while this replica holds its share of the lanes. */
  mayAcquire: () => boolean;
  signal: AbortSignal;
};

/**
 * Routes one lane of the intake while this replica holds the lane's lease: pulls through the lane's durable
 * consumer (`IntakeConsumer`), routes each message in arrival order (`createRoute`), keeps what it holds
 * from redelivery (`KeepAlive`) and writes one destination at a time (`DestinationOrder`).
 */
export class LaneRouter {
  readonly intake: IntakeConsumer;
  readonly lease;
  private readonly pipeline: OrderedPipeline<JsMsg>;
  private readonly held: KeepAlive<JsMsg>;
  private loop: Promise<void> | undefined;
  private term: Promise<void> = Promise.resolve();

  constructor(private readonly deps: LaneRouterDeps) {
    const { nats, config, s, lane } = deps;
    const logger = deps.logger.child({ lane: lane.consumer });
    // The fence grace does not shrink with the (now short) ack_wait.
    const order = new DestinationOrder(Math.max(config.ROUTER_ACK_WAIT, MIN_FENCE_GRACE_MS));
    // A short ack_wait bounds the failover pause; held messages are kept alive so load alone never redelivers.
    this.held = new KeepAlive<JsMsg>({
      everyMs: Math.max(100, Math.floor(config.ROUTER_ACK_WAIT / 6)),
      ping: (msg) => settle(logger, () => msg.working()),
    });
    this.pipeline = routingPipeline(deps, logger, order, this.held);
    this.lease = createRouterLease(
      nats,
      config,
      s,
      { key: lane.leaseKey, mayAcquire: deps.mayAcquire },
      logger,
    );
    this.intake = new IntakeConsumer({
      lane,
      unpartitioned: deps.unpartitioned,
      nats,
      config,
      s,
      logger,
      guard: deps.guard,
      pipeline: this.pipeline,
      held: this.held,
      order,
      signal: deps.signal,
    });
  }

  /** Messages this lane holds (queued or being written). */
  get size(): number {
    return this.pipeline.size;
  }

  /** True while this replica routes the lane. */
  routing(): boolean {
    return this.intake.state === "consuming" && this.lease.held();
  }

  start(): void {
    this.held.start();
    const { signal } = this.deps;
    this.loop = runLeaderLoop({
      lease: this.lease,
      signal,
      onStandby: () => {
        this.intake.state = "standby";
      },
      term: (term) => {
        const running = this.intake.term(term);
        this.term = running.then(
          () => {},
          () => {},
        );
        return running;
      },
      onError: (err) => this.intake.failed(err),
      retry: REBIND_BACKOFF,
    });
  }

  /**
   * Gives the lane to another replica (`LaneShare`): stops pulling and finishes what it holds before freeing
   * the lease, so the next holder finds nothing of this one's in flight.
   */
  release(): Promise<void> {
    return this.lease.release(() => this.term);
  }

  /** After the signal aborted: finishes what it holds, then gives the lease up so another replica takes it. */
  async stop(): Promise<void> {
    this.intake.state = "stopping";
    await this.intake.close();
    await this.loop;
    await this.pipeline.idle();
    this.held.stop();
    await this.lease.stop();
    this.intake.state = "stopped";
  }
}

function routingPipeline(
  deps: LaneRouterDeps,
  logger: Logger,
  order: DestinationOrder,
  held: KeepAlive<JsMsg>,
): OrderedPipeline<JsMsg> {
  const { nats, config, s, routerMetrics: metrics } = deps;
  const route = createRoute({
    nats,
    s,
    logger,
    metrics,
    order,
    prepare: prepareOptions(s, config, nats),
    mailboxFull: mailboxFullHandler({ ...nats, s, refused: metrics.mailboxFull }),
  });
  return new OrderedPipeline(config.ROUTER_MAX_INFLIGHT, (msg) =>
    route(msg).finally(() => held.release(msg)),
  );
}
