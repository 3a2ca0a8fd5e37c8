import type { Subjects } from "@herald/protocol";
import {
  ensureConsumer,
  type HandlerGuard,
  type LeaderTerm,
  type Logger,
  type Nats,
  runGuarded,
  sleep,
  type TermEnd,
  waitForStreams,
} from "@herald/service-kit";
import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { Config } from "./config.js";
import { AFTER_EARLIER_MS, type DestinationOrder } from "./destination-order.js";
import type { KeepAlive } from "./keep-alive.js";
import { type Lane, unpartitionedNamed } from "./lanes.js";
import type { OrderedPipeline } from "./pipeline.js";
import { MAX_RETRY_DELAY_MS } from "./retry.js";
import { settle } from "./settle.js";
import { type ConsumerCounts, TakeoverGate } from "./takeover-gate.js";

export type IntakeConsumerDeps = {
  /** The share of the intake this consumer reads. */
  lane: Lane;
  /** The unpartitioned lane: its filter must be set before any partition consumer may exist. */
  unpartitioned: Lane;
  nats: Nats;
  config: Config;
  s: Subjects;
  logger: Logger;
  guard: HandlerGuard;
  pipeline: OrderedPipeline<JsMsg>;
  /** What the pipeline holds, kept from redelivery until it is settled. */
  held: KeepAlive<JsMsg>;
  order: DestinationOrder;
  /** Aborts when the router stops. */
  signal: AbortSignal;
};

/** How often a partition lane looks whether the unpartitioned lane has routed what it must not overtake. */
const UNPARTITIONED_POLL_MS = 500;

/** Waits until persistence has created the streams the router reads and writes. */
export async function waitForRouterStreams(
  nats: Nats,
  s: Subjects,
  signal: AbortSignal,
  onWaiting: (stream: string, reason: string, err: unknown) => void,
): Promise<void> {
  // Channel streams are created in the same pass by persistence; a write before that is retried.
  await waitForStreams(nats.jsm, [s.streams.intake, s.streams.mailbox, s.streams.dead], signal, onWaiting);
}

/** How a bound subscription ended: the lease was lost or the router stops, or the subscription closed itself. */
type Ended = { lost: true } | { lost: false; err: Error | undefined };

/**
 * The router's pull on one lane of INTAKE through the durable consumer every replica shares. `state` says
 * what it is doing (readiness reports it).
 */
export class IntakeConsumer {
  state = "not started";
  private messages: ConsumerMessages | undefined;

  constructor(private readonly deps: IntakeConsumerDeps) {}

  /** The lane's consumer name. */
  get lane(): string {
    return this.deps.lane.consumer;
  }

  /** One term as leader: binds and consumes until the lease is lost, the router stops or the subscription ends. */
  async term({ lost, healthy }: LeaderTerm): Promise<TermEnd> {
    const { signal, logger, s, lane } = this.deps;
    this.state = "binding the intake consumer";
    const bound = await this.bind();
    if (!bound) return "lost";
    const { current, gate } = bound;
    const stopped = AbortSignal.any([lost, signal]);
    const ended: Promise<Ended> = Promise.race([
      current.closed().then((err) => ({ lost: false as const, err: err ?? undefined })),
      aborted(stopped).then(() => ({ lost: true as const })),
    ]);
    const sessionEnded = new AbortController();
    void ended.then(() => sessionEnded.abort());
    if (gate.gathering) this.state = "waiting for the previous leader's messages";
    const gathered = await gate.gather(sessionEnded.signal);
    if (gathered.kind !== "aborted") {
      this.state = "consuming";
      healthy();
      logger[gathered.kind === "deadline" ? "warn" : "info"](
        { consumer: lane.consumer, stream: s.streams.intake, ...gathered },
        gathered.kind === "deadline"
          ? "consuming intake; some messages of the previous leader did not come back in time"
          : "consuming intake",
      );
    }
    const outcome = await ended;
    if (signal.aborted) return "lost";
    if (outcome.lost) {
      await current.close();
      await this.deps.pipeline.idle();
      return "lost";
    }
    logger.error({ err: outcome.err }, "intake subscription ended; binding again");
    this.state = "rebinding the intake consumer";
    return "failed";
  }

  /** A term that threw (the consumer could not be bound). */
  failed(err: unknown): void {
    this.deps.logger.error({ err }, "could not bind the intake consumer; retrying");
    this.state = "rebinding the intake consumer";
  }

  /** Stops pulling; what is held is still finished by the pipeline. */
  async close(): Promise<void> {
    await this.messages?.close();
  }

  /** Ensures the consumer and subscribes through a takeover gate; undefined when the router stopped meanwhile. */
  private async bind(): Promise<{ current: ConsumerMessages; gate: TakeoverGate<JsMsg> } | undefined> {
    const { nats, config, s, signal, guard, lane, unpartitioned } = this.deps;
    // A work queue refuses a filtered consumer beside an unfiltered one: an earlier release's `router` read
    // the whole intake, so its filter is set first.
    await this.ensure(unpartitioned);
    if (lane !== unpartitioned) {
      await this.ensure(lane);
      if (!(await this.untilUnpartitionedRouted())) return undefined;
    }
    const consumer = await nats.js.consumers.get(s.streams.intake, lane.consumer);
    if (signal.aborted) return undefined;
    // Blocks of an earlier session are stale: what they waited for went back to the stream.
    this.deps.order.reset();
    // What an earlier leader left unacked comes back out of order; the gate restores stream order.
    const gate = this.takeoverGate(await this.consumerCounts());
    const current = await consumer.consume({
      max_messages: config.ROUTER_PREFETCH,
      callback: (msg) => runGuarded(guard, "intake", () => gate.accept(msg)),
    });
    if (signal.aborted) {
      await current.close();
      return undefined;
    }
    this.messages = current;
    void this.watch(current);
    return { current, gate };
  }

  private async ensure(lane: Lane): Promise<void> {
    const { nats, config, s } = this.deps;
    await ensureConsumer(nats.jsm, {
      stream: s.streams.intake,
      name: lane.consumer,
      ackWaitMs: config.ROUTER_ACK_WAIT,
      maxAckPending: config.ROUTER_MAX_ACK_PENDING,
      filterSubjects: lane.filterSubjects,
    });
  }

  /** False when the router stopped or the lease was lost meanwhile. */
  private async untilUnpartitionedRouted(): Promise<boolean> {
    const { nats, s, signal, logger, lane } = this.deps;
    for (let logged = false; !signal.aborted; logged = true) {
      const left = await unpartitionedNamed(nats.jsm, s);
      if (left === 0) return true;
      this.state = "waiting for unpartitioned channel messages to be routed";
      if (!logged) logger.info({ consumer: lane.consumer, left }, this.state);
      await sleep(UNPARTITIONED_POLL_MS, signal);
    }
    return false;
  }

  private async consumerCounts(): Promise<ConsumerCounts> {
    const { nats, s, lane } = this.deps;
    const info = await nats.jsm.consumers.info(s.streams.intake, lane.consumer);
    return {
      unacked: info.num_ack_pending,
      deliveredSeq: info.delivered.stream_seq,
      deliveries: info.delivered.consumer_seq,
    };
  }

  private takeoverGate(atTakeover: ConsumerCounts): TakeoverGate<JsMsg> {
    const { config, logger, pipeline, held } = this.deps;
    const ackWait = config.ROUTER_ACK_WAIT;
    return new TakeoverGate<JsMsg>({
      atTakeover,
      seqOf: (msg) => msg.info.streamSequence,
      forward: (msg) => {
        held.track(msg);
        pipeline.push(msg);
      },
      counts: () => this.consumerCounts(),
      keepAlive: (msg) => settle(logger, () => msg.working()),
      handBack: (msg) => settle(logger, () => msg.nak()),
      pollMs: 100,
      keepAliveMs: Math.max(100, Math.floor(ackWait / 3)),
      // The longest an inherited message can stay away: unacked (ack_wait) or nak'd with the longest delay.
      deadlineMs: Math.max(ackWait, MAX_RETRY_DELAY_MS + AFTER_EARLIER_MS) + ackWait,
    });
  }

  /** A deleted consumer is not recreated by the client: end the subscription so the term ends and binds again. */
  private async watch(current: ConsumerMessages): Promise<void> {
    for await (const status of current.status()) {
      if (status.type === "consumer_deleted" || status.type === "consumer_not_found") {
        this.deps.logger.warn({ status }, "intake consumer is gone; recreating it");
        void current.close();
        return;
      }
    }
  }
}

/** Resolves when `signal` aborts (at once if it has). */
function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
}
