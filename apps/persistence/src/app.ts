import { subjects } from "@herald/protocol";
import {
  createHandlerGuard,
  ensureConsumer,
  isStreamNotFound,
  type ServiceDeps,
  untilSettled,
} from "@herald/service-kit";
import { jetstreamManager } from "@nats-io/jetstream";
import type { Subscription } from "@nats-io/transport-node";
import { AckProcessor } from "./ack-processor.js";

import type { Config } from "./config.js";
import { openCursorStore } from "./cursor-bucket.js";
import { createPersistenceMetrics } from "./metrics.js";
import { READ_TIMEOUT_MS, serveQueries } from "./query-server.js";
import { ensureStreams, settledPartitionCount, streamConfigs } from "./streams.js";

/**
 * Ack bundles unacked at once across replicas: each waits for its cursor writes (`PERSISTENCE_CURSOR_DELAY`),
 * and a busy connector sends one every 5 ms, so this covers 100 busy connectors at a 1 s delay.
 */
const HELD_BUNDLES = 20_000;

/**
 * Owns Herald's streams and buckets, applies client acks to device cursors and serves replay and cursor
 * queries. Any number of replicas may run: acks are split by one durable consumer and cursor writes are
 * compare-and-set.
 */
export function createPersistence({ nats, config, logger, metrics: registry }: ServiceDeps<Config>) {
  const s = subjects(config.HERALD_PREFIX);
  const metrics = createPersistenceMetrics(registry);
  const guard = createHandlerGuard(logger, registry);
  const subscriptions: Subscription[] = [];
  let processor: AckProcessor | undefined;
  let started = false;

  /** Streams, bucket and consumer: safe to repeat, so repeated while a forming cluster times out. */
  async function prepare() {
    const partitions = await settledPartitionCount(nats.jsm, s, config.HERALD_ROUTE_PARTITIONS);
    const configs = streamConfigs(s, { ...config, HERALD_ROUTE_PARTITIONS: partitions.count });
    await ensureStreams(nats.jsm, configs, s.streams.intake);
    const store = await openCursorStore(nats, config, s);
    await ensureConsumer(nats.jsm, {
      stream: s.streams.acks,
      name: s.consumers.persistence,
      ackWaitMs: config.PERSISTENCE_ACK_WAIT,
      maxAckPending: Math.max(config.PERSISTENCE_ACK_PREFETCH * 8, HELD_BUNDLES),
    });
    const consumer = await nats.js.consumers.get(s.streams.acks, s.consumers.persistence);
    return { partitions, configs, store, consumer };
  }

  async function start(): Promise<void> {
    const { partitions, configs, store, consumer } = await untilSettled(prepare, {
      what: "preparing streams and buckets",
      logger,
      // prepare creates every stream it then uses; "not found" is another replica's create of it that the
      // cluster has not applied everywhere yet (seen with two replicas on a forming 3-node cluster).
      alsoRetry: isStreamNotFound,
    });
    if (partitions.held) {
      logger.warn(
        { wanted: config.HERALD_ROUTE_PARTITIONS, ...partitions.held },
        "HERALD_ROUTE_PARTITIONS not applied: the intake's partitions still hold messages; restart once routed",
      );
    }
    processor = new AckProcessor({
      nc: nats.nc,
      jsm: nats.jsm,
      s,
      store,
      logger,
      acksApplied: metrics.acksApplied,
      guard,
      receipts: metrics.receipts,
      cursorDelayMs: config.PERSISTENCE_CURSOR_DELAY,
    });
    await processor.start(consumer, config.PERSISTENCE_ACK_PREFETCH);
    const reads = await jetstreamManager(nats.nc, { timeout: READ_TIMEOUT_MS, checkAPI: false });
    subscriptions.push(...serveQueries({ nats, reads, config, s, store, guard, logger, metrics }));
    started = true;
    logger.info({ streams: configs.map((c) => c.name) }, "streams ready; serving");
  }

  async function stop(): Promise<void> {
    started = false;
    for (const sub of subscriptions) await sub.drain().catch(() => {});
    await processor?.stop();
  }

  function notReadyReason(): string | undefined {
    if (!nats.connected()) return "nats disconnected";
    if (!started) return "starting";
    return undefined;
  }

  return { start, stop, notReadyReason };
}
