import { derivedId, type Subjects } from "@herald/protocol";
import {
  endSpan,
  type Logger,
  type Nats,
  type Span,
  SpanKind,
  secondsSinceStored,
  startSpan,
  withSpan,
} from "@herald/service-kit";
import type { JsMsg, PubAck } from "@nats-io/jetstream";
import { deadLetter } from "./dead-letter.js";
import { type DestinationOrder, OrderFenceError } from "./destination-order.js";
import type { MailboxFullHandler } from "./mailbox-full.js";
import { writeDestinations } from "./mailbox-writer.js";
import type { RouterMetrics } from "./metrics.js";
import { type Prepared, type PrepareOptions, prepare } from "./prepare.js";
import { FENCED_RETRY_MS, retryDelayMs } from "./retry.js";
import { settle } from "./settle.js";

export type RouteDeps = {
  nats: Nats;
  s: Subjects;
  logger: Logger;
  metrics: RouterMetrics;
  order: DestinationOrder;
  prepare: PrepareOptions;
  mailboxFull: MailboxFullHandler;
};

/** The writes one intake message needs, and what to count once they are all stored. */
type Plan = { writes: Promise<PubAck>[]; destinationKeys: string[]; onDone: (acks: PubAck[]) => void };

/**
 * The handling of one intake message (architecture step 1): decide, write it to its mailboxes or channel
 * (or to DEAD), then ack once every write is stored, or nak it with a delay. The writes are issued before the
 * first await (see OrderedPipeline); a bug must hand the message back, not leave it held until ack_wait.
 */
export function createRoute(deps: RouteDeps): (msg: JsMsg) => Promise<void> {
  const { logger, metrics } = deps;
  return (msg) => {
    // The publisher's trace continues here (or one starts); its spans are the message's first hop.
    const span = startSpan("herald.router.route", msg.headers, SpanKind.CONSUMER, {
      "herald.stream": deps.s.streams.intake,
      "herald.seq": msg.info.streamSequence,
      "herald.delivery_count": msg.info.deliveryCount,
    });
    try {
      const done = write(deps, msg, span);
      return span ? done.finally(() => endSpan(span)) : done;
    } catch (err) {
      endSpan(span, err);
      logger.error(
        { err, subject: msg.subject, seq: msg.info.streamSequence },
        "could not route intake message",
      );
      metrics.retries.inc();
      settle(logger, () => msg.nak(retryDelayMs(msg.info.deliveryCount)));
      return Promise.resolve();
    }
  };
}

/** Validates and writes one message, then settles it by the outcome of its writes. */
function write(deps: RouteDeps, msg: JsMsg, span?: Span): Promise<void> {
  const startedAt = performance.now();
  const timestampMs = Number(msg.timestampNanos / 1_000_000n);
  // The span is handed down, not made active (no context.with() per message): exemplars and log lines name it.
  const traceId = span?.spanContext().traceId;
  if (msg.info.deliveryCount === 1)
    deps.metrics.intakeLag.observe(secondsSinceStored(timestampMs), undefined, traceId);
  const fallbackId = derivedId(msg.info.streamSequence, timestampMs);
  const prepared = prepare(deps.prepare, msg, fallbackId, timestampMs);
  const plan =
    prepared.kind === "dead"
      ? rejectPlan(deps, msg, prepared, fallbackId, span)
      : routePlan(deps, msg, { ...prepared, fallbackId }, span);
  return Promise.allSettled(plan.writes).then((results) => {
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed)
      return withSpan(span, () => handBack(deps, msg, plan.destinationKeys, results, failed.reason));
    settle(deps.logger, () => msg.ack());
    plan.onDone(results.map((r) => (r as PromiseFulfilledResult<PubAck>).value));
    deps.metrics.duration.observe((performance.now() - startedAt) / 1000, undefined, traceId);
  });
}

function rejectPlan(
  deps: RouteDeps,
  msg: JsMsg,
  rejection: Extract<Prepared, { kind: "dead" }>,
  fallbackId: string,
  span?: Span,
): Plan {
  span?.setAttribute("herald.dead_reason", rejection.reason);
  const options = { s: deps.s, publisher: deps.nats.publisher, budget: deps.prepare.budget };
  return {
    writes: [deadLetter(options, msg, rejection, fallbackId, span)],
    destinationKeys: [],
    onDone: () => {
      deps.metrics.deadLetters.inc({ reason: rejection.reason });
      withSpan(span, () =>
        deps.logger.warn(
          {
            reason: rejection.reason,
            problem: rejection.message,
            subject: msg.subject,
            seq: msg.info.streamSequence,
          },
          "dead-lettered intake message",
        ),
      );
    },
  };
}

function routePlan(
  deps: RouteDeps,
  msg: JsMsg,
  routed: Extract<Prepared, { kind: "route" }> & { fallbackId: string },
  span?: Span,
): Plan {
  span?.setAttribute("messaging.message.id", routed.id);
  return {
    writes: writeDestinations(deps.nats.publisher, deps.order, routed, msg, deps.mailboxFull, span),
    // A destination's subject is its key in `order`.
    destinationKeys: routed.destinations.map((destination) => destination.subject),
    onDone: (acks) => {
      const duplicates = acks.filter((ack) => ack.duplicate).length;
      deps.metrics.routed.inc({ target: routed.target });
      if (acks.length > duplicates)
        deps.metrics.deliveries.inc({ outcome: "stored" }, acks.length - duplicates);
      if (duplicates > 0) deps.metrics.deliveries.inc({ outcome: "duplicate" }, duplicates);
    },
  };
}

/** A write failed: nak the message, and fence later ones to the same destinations until it is stored. */
function handBack(
  deps: RouteDeps,
  msg: JsMsg,
  destinationKeys: string[],
  results: PromiseSettledResult<PubAck>[],
  reason: unknown,
): void {
  // Only waiting for an earlier message is no failure: come back soon after it, without back-off.
  const fenced = results.every((r) => r.status === "fulfilled" || r.reason instanceof OrderFenceError);
  const now = Date.now();
  // Later messages to the same destinations are fenced until this one is stored, so they keep intake order.
  const retryAt = deps.order.block(
    destinationKeys,
    msg.info.streamSequence,
    now + (fenced ? FENCED_RETRY_MS : retryDelayMs(msg.info.deliveryCount)),
  );
  const retryIn = retryAt - now;
  deps.metrics.retries.inc();
  deps.logger[fenced ? "debug" : "warn"](
    { err: reason, subject: msg.subject, seq: msg.info.streamSequence, retryIn },
    fenced
      ? "an earlier message to the same destination is not stored yet; handing back"
      : "routing failed; handing the message back",
  );
  settle(deps.logger, () => msg.nak(retryIn));
}
