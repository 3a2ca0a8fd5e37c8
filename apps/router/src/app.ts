import { type Subjects, subjects } from "@herald/protocol";
import { createHandlerGuard, type Logger, runLeaderLoop, type ServiceDeps } from "@herald/service-kit";
import type { JsMsg } from "@nats-io/jetstream";
import type { Config } from "./config.js";
import { DestinationOrder, MIN_FENCE_GRACE_MS } from "./destination-order.js";
import { IntakeConsumer } from "./intake-consumer.js";
import { KeepAlive } from "./keep-alive.js";
import { createRouterLease } from "./leadership.js";
import { mailboxFullHandler } from "./mailbox-full.js";
import { createRouterMetrics } from "./metrics.js";
import { OrderedPipeline } from "./pipeline.js";
import { prepareOptions } from "./prepare.js";
import { createRoute } from "./route.js";
import { settle } from "./settle.js";

export type Router = {
  /** Waits for the streams, binds the shared consumer and starts routing; resolves once consuming. */
  start(): Promise<void>;
  /** Stops pulling, finishes (acks or naks) every message held, then resolves. */
  stop(): Promise<void>;
  notReadyReason(): string | undefined;
  /** True while this replica holds the lease and routes; the others stand by. */
  isLeader(): boolean;
};

/** The wait before binding again after a failed term: doubling from 500 ms, at most 5 s. */
const REBIND_BACKOFF = { initialMs: 500, maxMs: 5_000 };

/**
 * The router (architecture step 1): the lease holder pulls intake messages through the durable consumer every
 * replica shares (`IntakeConsumer`) and routes each (`createRoute`); the other replicas stand by.
 */
export function createRouter(deps: ServiceDeps<Config>): Router {
  const { nats, config } = deps;
  const logger = deps.logger.child({ component: "router" });
  const s = subjects(config.HERALD_PREFIX);
  const abort = new AbortController();
  // The fence grace does not shrink with the (now short) ack_wait.
  const order = new DestinationOrder(Math.max(config.ROUTER_ACK_WAIT, MIN_FENCE_GRACE_MS));
  // A short ack_wait bounds the failover pause; held messages are kept alive so load alone never redelivers.
  const held = new KeepAlive<JsMsg>({
    everyMs: Math.max(100, Math.floor(config.ROUTER_ACK_WAIT / 6)),
    ping: (msg) => settle(logger, () => msg.working()),
  });
  const pipeline = routingPipeline(deps, s, logger, order, held);
  const lease = createRouterLease(nats, config, s, logger);
  let consuming: () => void = () => {};
  const intake = new IntakeConsumer({
    nats,
    config,
    s,
    logger,
    guard: createHandlerGuard(logger, deps.metrics),
    pipeline,
    held,
    order,
    signal: abort.signal,
    onConsuming: () => consuming(),
  });
  let loop: Promise<void> | undefined;

  async function run(): Promise<void> {
    held.start();
    await intake.waitForStreams();
    await runLeaderLoop({
      lease,
      signal: abort.signal,
      onStandby: () => {
        intake.state = "standby";
        consuming();
      },
      term: (term) => intake.term(term),
      onError: (err) => intake.failed(err),
      retry: REBIND_BACKOFF,
    });
  }

  return {
    start() {
      if (loop) return Promise.resolve();
      const started = new Promise<void>((resolve) => {
        consuming = resolve;
      });
      loop = run().finally(() => consuming());
      return started;
    },

    async stop() {
      if (abort.signal.aborted) return;
      intake.state = "stopping";
      abort.abort();
      await intake.close();
      await loop;
      await pipeline.idle();
      held.stop();
      // Deleting the lease key lets a standby take over at once.
      await lease.stop();
      intake.state = "stopped";
      logger.info("router drained");
    },

    isLeader() {
      return intake.state === "consuming" && lease.held();
    },

    notReadyReason() {
      const { state } = intake;
      if (state !== "consuming" && state !== "standby") return state;
      return nats.connected() ? undefined : "NATS is not connected";
    },
  };
}

/** Routes each intake message in arrival order (`createRoute`), with the metrics that count it. */
function routingPipeline(
  deps: ServiceDeps<Config>,
  s: Subjects,
  logger: Logger,
  order: DestinationOrder,
  held: KeepAlive<JsMsg>,
): OrderedPipeline<JsMsg> {
  const { nats, config } = deps;
  const pipeline: OrderedPipeline<JsMsg> = new OrderedPipeline(config.ROUTER_MAX_INFLIGHT, (msg) =>
    route(msg).finally(() => held.release(msg)),
  );
  const metrics = createRouterMetrics(deps.metrics, () => pipeline.size);
  const route = createRoute({
    nats,
    s,
    logger,
    metrics,
    order,
    prepare: prepareOptions(s, config, nats),
    mailboxFull: mailboxFullHandler({ ...nats, s, refused: metrics.mailboxFull }),
  });
  return pipeline;
}
