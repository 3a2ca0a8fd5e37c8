import { payloadBudget, subjects } from "@herald/protocol";
import {
  Counter,
  createHandlerGuard,
  type Logger,
  maxPayload,
  type Nats,
  type Registry,
  serveJson,
} from "@herald/service-kit";
import { AckPolicy, DeliverPolicy } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { nanos, type Subscription } from "@nats-io/transport-node";
import { AckProcessor } from "./ack-processor.js";
import { channelReplayPage } from "./channel-replay.js";
import type { Config } from "./config.js";
import { getCursors } from "./cursor-api.js";
import { CursorStore } from "./cursor-store.js";
import { gapNotice, mailboxLookups } from "./gap-check.js";
import { deadLetterer } from "./mailbox-reader.js";
import type { PageLimits } from "./page.js";
import { replayPage } from "./replay.js";
import { ensureStreams, streamConfigs } from "./streams.js";

export type PersistenceDeps = { nats: Nats; config: Config; logger: Logger; metrics: Registry };

/**
 * Owns Herald's streams and buckets, applies client acks to device cursors and serves replay and cursor
 * queries. Any number of replicas may run: acks are split by one durable consumer and cursor writes are
 * compare-and-set.
 */
export function createPersistence({ nats, config, logger, metrics }: PersistenceDeps) {
  const s = subjects(config.HERALD_PREFIX);
  const subscriptions: Subscription[] = [];
  let processor: AckProcessor | undefined;
  let started = false;
  const acksApplied = new Counter({
    name: "herald_persistence_acks_applied_total",
    help: "Client acks applied to device cursors",
    registers: [metrics],
  });
  const receipts = new Counter({
    name: "herald_persistence_receipts_total",
    help: "Receipts published on <p>.receipt.<userToken>, one per applied ack",
    registers: [metrics],
  });
  const replays = new Counter({
    name: "herald_persistence_replay_pages_total",
    help: "Replay pages served",
    registers: [metrics],
  });
  const unsendable = new Counter({
    name: "herald_persistence_unsendable_messages_total",
    help: "Stored messages passed over in replay because no reply can carry them (too big or too deep)",
    registers: [metrics],
  });
  const guard = createHandlerGuard(logger, metrics);
  const limits: PageLimits = {
    budget: () => payloadBudget(maxPayload(nats.nc)),
    onUnsendable: (stream, seq, why) => {
      unsendable.inc();
      logger.error({ stream, seq, why }, "stored message cannot be sent in any reply; passed over");
    },
  };
  const deadLetters = new Counter({
    name: "herald_persistence_dead_letters_total",
    help: "Mailbox entries found invalid when read, dead-lettered and skipped",
    labelNames: ["reason"],
    registers: [metrics],
  });

  async function start(): Promise<void> {
    const configs = streamConfigs(s, config);
    await ensureStreams(nats.jsm, configs, s.streams.intake);
    const kv = await new Kvm(nats.js).create(s.buckets.cursors, {
      history: 1,
      replicas: config.HERALD_REPLICAS,
      // A cursor untouched for longer than retention points only at messages that are gone.
      ttl: config.HERALD_RETENTION + 86_400_000,
      max_bytes: config.HERALD_CURSORS_MAX_BYTES,
    });
    await limitBucketBytes(`KV_${s.buckets.cursors}`, config.HERALD_CURSORS_MAX_BYTES);
    const store = new CursorStore(kv, { publisher: nats.publisher, subject: s.cursorKeySubject });
    await ensureAckConsumer();
    processor = new AckProcessor({
      nc: nats.nc,
      jsm: nats.jsm,
      s,
      store,
      logger,
      acksApplied,
      guard,
      receipts,
    });
    await processor.start(
      await nats.js.consumers.get(s.streams.acks, s.consumers.persistence),
      config.PERSISTENCE_ACK_PREFETCH,
    );
    const deadLetter = deadLetterer(nats.publisher, s, s.streams.mailbox, (reason) =>
      deadLetters.inc({ reason }),
    );
    const gaps = { lookups: mailboxLookups(nats.jsm, s), notice: gapNotice(nats.nc, s, metrics, logger) };
    const deps = { jsm: nats.jsm, s, store, limits, deadLetter, gaps };
    const channelDeps = { jsm: nats.jsm, s, groups: config.HERALD_CHANNEL_RETENTION, limits };
    subscriptions.push(
      serveJson(nats.nc, s.replay, "persistence", guard, (request) => {
        replays.inc();
        return replayPage(deps, request);
      }),
      serveJson(nats.nc, s.cursorGet, "persistence", guard, (request) => getCursors(deps, request)),
      serveJson(nats.nc, s.channelReplay, "persistence", guard, (request) =>
        channelReplayPage(channelDeps, request),
      ),
    );
    started = true;
    logger.info({ streams: configs.map((c) => c.name) }, "streams ready; serving");
  }

  /** `kvm.create` leaves an existing bucket's config as it is: its byte limit is set here. */
  async function limitBucketBytes(stream: string, maxBytes: number): Promise<void> {
    const info = await nats.jsm.streams.info(stream);
    if (info.config.max_bytes !== maxBytes) {
      await nats.jsm.streams.update(stream, { max_bytes: maxBytes });
    }
  }

  async function ensureAckConsumer(): Promise<void> {
    const config_ = {
      durable_name: s.consumers.persistence,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(config.PERSISTENCE_ACK_WAIT),
      max_ack_pending: config.PERSISTENCE_ACK_PREFETCH * 8,
    };
    try {
      await nats.jsm.consumers.info(s.streams.acks, s.consumers.persistence);
      await nats.jsm.consumers.update(s.streams.acks, s.consumers.persistence, config_);
    } catch {
      await nats.jsm.consumers.add(s.streams.acks, config_).catch(async (err: unknown) => {
        // Another replica created it first.
        await nats.jsm.consumers.info(s.streams.acks, s.consumers.persistence).catch(() => {
          throw err;
        });
      });
    }
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
