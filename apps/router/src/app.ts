import { DeadReason, derivedId, Header, payloadBudget, subjects, utf8ByteLength } from "@herald/protocol";
import {
  createHandlerGuard,
  delay,
  endSpan,
  Lease,
  type Logger,
  maxPayload,
  type Nats,
  type Registry,
  runGuarded,
  type Span,
  SpanKind,
  secondsSinceStored,
  startSpan,
  traceHeaders,
  waitForStreams,
  withSpan,
} from "@herald/service-kit";
import type { ConsumerMessages, JsMsg, PubAck } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { headers, type MsgHdrs } from "@nats-io/transport-node";
import type { Config } from "./config.js";
import { ensureConsumer } from "./consumer.js";
import { AFTER_EARLIER_MS, DestinationOrder, OrderFenceError } from "./destination-order.js";
import { type Decision, decide, headerSafe } from "./intake.js";
import { mailboxFullHandler } from "./mailbox-full.js";
import { createRouterMetrics } from "./metrics.js";
import { OrderedPipeline } from "./pipeline.js";
import { type ConsumerCounts, TakeoverGate } from "./takeover-gate.js";

export type RouterDeps = { nats: Nats; config: Config; logger: Logger; metrics: Registry };

export type Router = {
  /** Waits for the streams, binds the shared consumer and starts routing; resolves once consuming. */
  start(): Promise<void>;
  /** Stops pulling, finishes (acks or naks) every message held, then resolves. */
  stop(): Promise<void>;
  notReadyReason(): string | undefined;
  /** True while this replica holds the lease and routes; the others stand by. */
  isLeader(): boolean;
};

const MAX_RETRY_DELAY_MS = 30_000;
/** A fenced message comes back after the one it waits for; this is the least it waits. */
const FENCED_RETRY_MS = 250;

/** Retry delays after a failed write: doubling from 500 ms, at most 30 s. */
export function retryDelayMs(deliveryCount: number): number {
  return Math.min(500 * 2 ** Math.max(0, deliveryCount - 1), MAX_RETRY_DELAY_MS);
}

/** A stable id for a message published without one (from its intake position): the same on every redelivery. */
export { derivedId };

const encoder = new TextEncoder();

/** An intake message ready to write: dead-lettered with its reason, or routed with its mailbox body. */
type Prepared =
  | Extract<Decision, { kind: "dead" }>
  | (Extract<Decision, { kind: "route" }> & { id: string; body: Uint8Array });

/**
 * The `Nats-Msg-Id` of one write: the message id and its destination. A single-user message (left in INTAKE
 * by an earlier release) published with a `Nats-Msg-Id` keeps that header, the key the mailbox stream
 * deduplicates a direct publish by, so a backend's retry across the upgrade is stored once. (A body id alone
 * is not unique across users, so it keeps its destination.)
 */
function dedupKey(target: string, id: string, destination: string, header: string | undefined): string {
  return target === "user" && header !== undefined ? header : `${id}/${destination}`;
}

/**
 * The router (architecture step 1): pulls intake messages through the durable consumer every replica shares,
 * writes each valid one to its users' mailboxes and rejects the rest to the dead-letter stream. An intake
 * message is acked only after all its writes are acknowledged; a failure hands it back with a delay.
 */
export function createRouter(deps: RouterDeps): Router {
  const { nats, config } = deps;
  const logger = deps.logger.child({ component: "router" });
  const s = subjects(config.HERALD_PREFIX);
  const abort = new AbortController();
  const pipeline = new OrderedPipeline<JsMsg>(config.ROUTER_MAX_INFLIGHT, route);
  const order = new DestinationOrder(config.ROUTER_ACK_WAIT);
  const metrics = createRouterMetrics(deps.metrics, () => pipeline.size);
  const guard = createHandlerGuard(logger, deps.metrics);
  const mailboxFull = mailboxFullHandler({ ...nats, s, refused: metrics.mailboxFull });

  let state = "not started";
  let leaseChanged: () => void = () => {};
  const lease = new Lease({
    open: () => new Kvm(nats.js).create(s.buckets.leases, { history: 1, replicas: config.HERALD_REPLICAS }),
    key: "router",
    holderId: config.ROUTER_REPLICA_ID,
    ttlMs: config.ROUTER_LEASE_TTL,
    renewMs: Math.max(250, Math.floor(config.ROUTER_LEASE_TTL / 3)),
    onChange: (held) => {
      logger.info({ held }, held ? "router lease acquired: routing" : "router lease lost: standing by");
      leaseChanged();
    },
    onError: (err) => logger.warn({ err }, "router lease round failed"),
  });

  /** Resolves once `lease.held()` equals `held`, or the router stops. */
  function leaseIs(held: boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (lease.held() === held || abort.signal.aborted) {
          clearInterval(timer);
          abort.signal.removeEventListener("abort", check);
          resolve();
        }
      };
      // The lease's validity also ends by time alone, so poll as well as listen.
      const timer = setInterval(check, 100);
      leaseChanged = check;
      abort.signal.addEventListener("abort", check, { once: true });
      check();
    });
  }
  let messages: ConsumerMessages | undefined;
  let loop: Promise<void> | undefined;

  /** Routes one message; a bug in `write` must hand the message back, not leave it held until ack_wait. */
  function route(msg: JsMsg): Promise<void> {
    // The publisher's trace continues here (or one starts); its spans are the message's first hop.
    const span = startSpan("herald.router.route", msg.headers, SpanKind.CONSUMER, {
      "herald.stream": s.streams.intake,
      "herald.seq": msg.info.streamSequence,
      "herald.delivery_count": msg.info.deliveryCount,
    });
    try {
      const done = withSpan(span, () => write(msg, span));
      return span ? done.finally(() => endSpan(span)) : done;
    } catch (err) {
      endSpan(span, err);
      logger.error(
        { err, subject: msg.subject, seq: msg.info.streamSequence },
        "could not route intake message",
      );
      metrics.retries.inc();
      settle(() => msg.nak(retryDelayMs(msg.info.deliveryCount)));
      return Promise.resolve();
    }
  }

  /**
   * What one intake message becomes, its mailbox body encoded. `decide` and the encoding touch no NATS, so a
   * throw here is about the message's content and would recur on every retry: it is dead-lettered instead.
   */
  function prepare(msg: JsMsg, fallbackId: string, timestampMs: number): Prepared {
    try {
      const msgId = msg.headers?.get(Header.MsgId) || undefined;
      const decision = decide(
        s,
        { subject: msg.subject, payload: msg.data, msgId },
        config.HERALD_MAX_MESSAGE_BYTES,
        config.HERALD_CHANNEL_RETENTION,
      );
      if (decision.kind === "dead") return decision;
      const id = decision.id ?? fallbackId;
      // A mailbox entry is a send body (`readMailboxEntry` reads it; `ts` is the mailbox's store time); a
      // channel entry keeps the intake time.
      const toUsers = decision.target === "user" || decision.target === "users";
      const body = encoder.encode(
        JSON.stringify(toUsers ? { id, data: decision.data } : { id, data: decision.data, ts: timestampMs }),
      );
      // A stored entry must fit one NATS message with room to spare, or it could never be replayed.
      const budget = payloadBudget(maxPayload(nats.nc));
      if (body.length > budget) {
        return {
          kind: "dead",
          reason: DeadReason.TooLarge,
          message: `as stored it would be ${body.length} bytes, more than the ${budget} a NATS message carries here`,
        };
      }
      return { ...decision, id, body };
    } catch (err) {
      return {
        kind: "dead",
        reason: DeadReason.InvalidMessage,
        message: `could not be routed: ${err instanceof Error ? err.message : String(err)}`,
      };
    }
  }

  /** Publishes a rejected message to DEAD; the msgID makes a redelivered rejection land there once. */
  function deadLetter(
    msg: JsMsg,
    message: string,
    reason: DeadReason,
    fallbackId: string,
    span?: Span,
  ): Promise<PubAck> {
    const h = headers();
    const why = headerSafe(message);
    h.set(Header.DeadReason, why);
    h.set(Header.DeadSubject, msg.subject);
    // Headers count towards max_payload: a payload that fit alone is cut to fit with them (length kept).
    const room = payloadBudget(maxPayload(nats.nc)) - utf8ByteLength(msg.subject) - why.length;
    let data = msg.data;
    if (data.length > room) {
      h.set(Header.DeadTruncated, String(data.length));
      data = data.subarray(0, Math.max(0, room));
    }
    // The msgID makes a redelivered rejection land in DEAD once.
    return nats.publisher.publish(s.dead(reason), data, {
      headers: traceHeaders(span, h) ?? h,
      msgID: `dead/${fallbackId}`,
    });
  }

  /** Validates and writes one message; the writes are issued before the first await (see OrderedPipeline). */
  function write(msg: JsMsg, span?: Span): Promise<void> {
    const startedAt = performance.now();
    const timestampMs = Number(msg.timestampNanos / 1_000_000n);
    if (msg.info.deliveryCount === 1) metrics.intakeLag.observe(secondsSinceStored(timestampMs));
    const fallbackId = derivedId(msg.info.streamSequence, timestampMs);
    const decision = prepare(msg, fallbackId, timestampMs);

    let writes: Promise<PubAck>[];
    let destinationKeys: string[] = [];
    let onDone: (acks: PubAck[]) => void;
    if (decision.kind === "dead") {
      span?.setAttribute("herald.dead_reason", decision.reason);
      writes = [deadLetter(msg, decision.message, decision.reason, fallbackId, span)];
      onDone = () => {
        metrics.deadLetters.inc({ reason: decision.reason });
        logger.warn(
          {
            reason: decision.reason,
            problem: decision.message,
            subject: msg.subject,
            seq: msg.info.streamSequence,
          },
          "dead-lettered intake message",
        );
      };
    } else {
      const { id, body } = decision;
      const msgId = msg.headers?.get(Header.MsgId) || undefined;
      // A destination's subject is its key in `order`.
      destinationKeys = decision.destinations.map((destination) => destination.subject);
      span?.setAttribute("messaging.message.id", id);
      writes = decision.destinations.map((destination) =>
        order.write(destination.subject, msg.info.streamSequence, () =>
          tracedWrite(span, destination.subject, id, (headers) =>
            nats.publisher
              .publish(destination.subject, body, {
                msgID: dedupKey(decision.target, id, destination.key, msgId),
                ...(headers ? { headers } : {}),
              })
              .catch((err: unknown) => mailboxFull(err, { ...destination, id, body, fallbackId })),
          ),
        ),
      );
      onDone = (acks) => {
        const duplicates = acks.filter((ack) => ack.duplicate).length;
        metrics.routed.inc({ target: decision.target });
        if (acks.length > duplicates) metrics.deliveries.inc({ outcome: "stored" }, acks.length - duplicates);
        if (duplicates > 0) metrics.deliveries.inc({ outcome: "duplicate" }, duplicates);
      };
    }

    return Promise.allSettled(writes).then((results) => {
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) {
        // Only waiting for an earlier message is no failure: come back soon after it, without back-off.
        const fenced = results.every((r) => r.status === "fulfilled" || r.reason instanceof OrderFenceError);
        const now = Date.now();
        // Later messages to the same destinations are fenced until this one is stored, so they keep intake order.
        const retryAt = order.block(
          destinationKeys,
          msg.info.streamSequence,
          now + (fenced ? FENCED_RETRY_MS : retryDelayMs(msg.info.deliveryCount)),
        );
        const retryIn = retryAt - now;
        metrics.retries.inc();
        logger[fenced ? "debug" : "warn"](
          { err: failed.reason, subject: msg.subject, seq: msg.info.streamSequence, retryIn },
          fenced
            ? "an earlier message to the same destination is not stored yet; handing back"
            : "routing failed; handing the message back",
        );
        settle(() => msg.nak(retryIn));
        return;
      }
      settle(() => msg.ack());
      onDone(results.map((r) => (r as PromiseFulfilledResult<PubAck>).value));
      metrics.duration.observe((performance.now() - startedAt) / 1000);
    });
  }

  /** One mailbox or channel write as a child span, whose context the stored message carries to the connector. */
  function tracedWrite(
    parent: Span | undefined,
    subject: string,
    id: string,
    publish: (headers: MsgHdrs | undefined) => Promise<PubAck>,
  ): Promise<PubAck> {
    const span =
      parent &&
      startSpan("herald.router.write", parent, SpanKind.PRODUCER, {
        "messaging.destination.name": subject,
        "messaging.message.id": id,
      });
    if (!span) return publish(undefined);
    return publish(traceHeaders(span)).then(
      (ack) => {
        span.setAttributes({
          "herald.stream": ack.stream,
          "herald.seq": ack.seq,
          "herald.duplicate": ack.duplicate,
        });
        endSpan(span);
        return ack;
      },
      (err: unknown) => {
        endSpan(span, err);
        throw err;
      },
    );
  }

  /** An ack or nak on a closed connection throws; the message then simply comes back after `ack_wait`. */
  function settle(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      logger.warn({ err }, "could not ack or nak an intake message");
    }
  }

  /** Binds the consumer and consumes until stopped; starts over if the subscription ends on its own. */
  async function run(consuming: () => void): Promise<void> {
    state = "waiting for streams";
    // Channel streams are created in the same pass by persistence; a write before that is retried.
    const streams = [s.streams.intake, s.streams.mailbox, s.streams.dead];
    await waitForStreams(nats.jsm, streams, abort.signal, (missing) => {
      state = `waiting for stream ${missing}`;
      logger.info({ stream: missing }, "waiting for stream (persistence creates it)");
    });
    lease.start();
    for (let failures = 0; !abort.signal.aborted; ) {
      state = "standby";
      consuming();
      await leaseIs(true);
      if (abort.signal.aborted) break;
      state = "binding the intake consumer";
      try {
        await ensureConsumer(nats.jsm, {
          stream: s.streams.intake,
          name: s.consumers.router,
          ackWaitMs: config.ROUTER_ACK_WAIT,
          maxAckPending: config.ROUTER_MAX_ACK_PENDING,
        });
        const consumer = await nats.js.consumers.get(s.streams.intake, s.consumers.router);
        if (abort.signal.aborted) break;
        // Blocks of an earlier session are stale: what they waited for went back to the stream.
        order.reset();
        // What an earlier leader left unacked comes back out of order; the gate restores stream order.
        const gate = takeoverGate(await consumerCounts());
        const current = await consumer.consume({
          max_messages: config.ROUTER_PREFETCH,
          callback: (msg) => runGuarded(guard, "intake", () => gate.accept(msg)),
        });
        if (abort.signal.aborted) {
          await current.close();
          break;
        }
        messages = current;
        void watch(current);
        const ended = Promise.race([
          current.closed().then((err) => ({ lost: false, err })),
          leaseIs(false).then(() => ({ lost: !abort.signal.aborted, err: undefined })),
        ]);
        const sessionEnded = new AbortController();
        void ended.then(() => sessionEnded.abort());
        if (gate.gathering) state = "waiting for the previous leader's messages";
        const gathered = await gate.gather(sessionEnded.signal);
        if (gathered.kind !== "aborted") {
          state = "consuming";
          failures = 0;
          logger[gathered.kind === "deadline" ? "warn" : "info"](
            { consumer: s.consumers.router, stream: s.streams.intake, ...gathered },
            gathered.kind === "deadline"
              ? "consuming intake; some messages of the previous leader did not come back in time"
              : "consuming intake",
          );
          consuming();
        }
        const outcome = await ended;
        if (abort.signal.aborted) break;
        if (outcome.lost) {
          await current.close();
          await pipeline.idle();
          continue;
        }
        const err = outcome.err;
        logger.error({ err }, "intake subscription ended; binding again");
      } catch (err) {
        if (abort.signal.aborted) break;
        logger.error({ err }, "could not bind the intake consumer; retrying");
      }
      failures++;
      state = "rebinding the intake consumer";
      await delay(Math.min(250 * 2 ** failures, 5_000), abort.signal);
    }
  }

  async function consumerCounts(): Promise<ConsumerCounts> {
    const info = await nats.jsm.consumers.info(s.streams.intake, s.consumers.router);
    return { unacked: info.num_ack_pending, deliveredSeq: info.delivered.stream_seq };
  }

  function takeoverGate(atTakeover: ConsumerCounts): TakeoverGate<JsMsg> {
    const ackWait = config.ROUTER_ACK_WAIT;
    return new TakeoverGate<JsMsg>({
      atTakeover,
      seqOf: (msg) => msg.info.streamSequence,
      forward: (msg) => pipeline.push(msg),
      counts: consumerCounts,
      keepAlive: (msg) => settle(() => msg.working()),
      handBack: (msg) => settle(() => msg.nak()),
      pollMs: 100,
      keepAliveMs: Math.max(100, Math.floor(ackWait / 3)),
      // The longest an inherited message can stay away: unacked (ack_wait) or nak'd with the longest delay.
      deadlineMs: Math.max(ackWait, MAX_RETRY_DELAY_MS + AFTER_EARLIER_MS) + ackWait,
    });
  }

  /** A deleted consumer is not recreated by the client: end the subscription so `run` binds again. */
  async function watch(current: ConsumerMessages): Promise<void> {
    for await (const status of current.status()) {
      if (status.type === "consumer_deleted" || status.type === "consumer_not_found") {
        logger.warn({ status }, "intake consumer is gone; recreating it");
        void current.close();
        return;
      }
    }
  }

  return {
    start() {
      if (!loop) {
        let consuming!: () => void;
        const started = new Promise<void>((resolve) => {
          consuming = resolve;
        });
        loop = run(consuming).finally(() => consuming());
        return started;
      }
      return Promise.resolve();
    },

    async stop() {
      if (abort.signal.aborted) return;
      state = "stopping";
      abort.abort();
      await messages?.close();
      await loop;
      await pipeline.idle();
      // Deleting the lease key lets a standby take over at once.
      await lease.stop();
      state = "stopped";
      logger.info("router drained");
    },

    isLeader() {
      return state === "consuming" && lease.held();
    },

    notReadyReason() {
      if (state !== "consuming" && state !== "standby") return state;
      return nats.connected() ? undefined : "NATS is not connected";
    },
  };
}
