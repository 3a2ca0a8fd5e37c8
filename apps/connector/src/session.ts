import type { AckedMessage, GapFrame, ReplayReply } from "@herald/protocol";
import {
  endSpan,
  type Logger,
  type Span,
  SpanKind,
  startSpan,
  traceparentOf,
  tracingEnabled,
  type WakeableSleeps,
  withSpan,
} from "@herald/service-kit";
import type { AckReceipt } from "./ack-bundler.js";
import type { FrameSink } from "./frames.js";
import { GaplessFeed, type GaplessFeedOptions, type Page } from "./gapless-feed.js";
import { InFlight } from "./in-flight.js";
import { type Delivery, type LiveListener, messageFrame } from "./live-feeds.js";
import { RecentIds } from "./recent-ids.js";

/** What every session of a connector shares: the per-user parts take the session's user and device. */
export type SessionDeps = {
  /** Starts following the user's live subject with `feed`, until `unfollow`. */
  follow: (userId: string, feed: LiveListener) => void;
  unfollow: (userId: string, feed: LiveListener) => void;
  /** One page of unacked messages after `after` (the device's cursor when undefined). */
  replay: (
    userId: string,
    deviceId: string,
    after: number | undefined,
    limit: number,
  ) => Promise<ReplayReply>;
  /** Queues acks for the next bundle (a failure is logged there); `receipt` hears how the write went. */
  publishAcks: (userId: string, deviceId: string, acks: AckedMessage[], receipt?: AckReceipt) => void;
  /** Where the feed's failed replays wait to retry (shared by the connector's feeds). */
  retries?: WakeableSleeps;
  maxInflight: number;
  ackTimeoutMs: number;
  replayPage: number;
  logger: Logger;
  onDelivered?: (count: number, resent: boolean) => void;
};

/**
 * How long an acked id is remembered: a repeated ack comes within a round trip of the first (a resend that
 * crossed it); a copy stored again later is delivered again, which `id` lets the client drop.
 */
export const ACKED_MEMORY_MS = 10_000;

/** `span`: the delivery's span (tracing on, traced messages), open from the socket write to the stored ack. */
type Inflight = {
  seq: number;
  prev: number;
  frame: string | Buffer;
  sentAt: number;
  span: Span | undefined;
};

/**
 * User-message delivery for one connection: a gapless feed of the user's mailbox (replay from the device's
 * cursor, then live), plus what the device has not acked yet: resent after a timeout, and bounded, so the
 * feed pauses when too much is unacked and resumes by replay once acks make room.
 *
 * An idle connection keeps one of these, so it holds little: the session is its feed's source (methods, no
 * closures), and the in-flight messages and the acked-id memory are made by the first delivery or ack.
 */
export class Session implements GaplessFeedOptions<Delivery> {
  /** Made by the first delivery and kept: empty, it holds no `Map` (`InFlight`). */
  private inflight: InFlight<Inflight> | undefined;
  /**
   * Ids acked on this connection lately, so a repeated ack is not "unknown" and a copy stored again counts as
   * acked: at most 2 × `maxInflight`, for `ACKED_MEMORY_MS`. Kept for the whole connection, it grew to ~160 kB
   * on a connection that had received 2,000 messages; dropped when empty, an idle connection holds none.
   */
  private recentlyAcked: RecentIds | undefined;
  private readonly feed: GaplessFeed<Delivery>;
  private following = false;
  private closed = false;

  constructor(
    private readonly deps: SessionDeps,
    readonly userId: string,
    readonly deviceId: string,
    /** Where frames go (the connection). */
    private readonly client: FrameSink,
  ) {
    this.feed = new GaplessFeed<Delivery>(this);
  }

  get inflightCount(): number {
    return this.inflight?.size ?? 0;
  }

  get pageSize(): number {
    return this.deps.replayPage;
  }

  get retries(): WakeableSleeps | undefined {
    return this.deps.retries;
  }

  /** Made when a replay fails (rarely), not kept per connection. */
  get logger(): Logger {
    return this.deps.logger.child({ userId: this.userId, deviceId: this.deviceId });
  }

  start(): void {
    // Follow first, then replay: anything stored after the replay's end is then seen live.
    // An unreadable live message (an invalid entry) is skipped; a catch-up steps over it and dead-letters it.
    this.deps.follow(this.userId, this.feed);
    this.following = true;
    this.feed.start();
  }

  close(): void {
    this.closed = true;
    if (this.following) this.deps.unfollow(this.userId, this.feed);
    this.following = false;
    this.feed.close();
    if (tracingEnabled())
      for (const entry of this.inflight?.values() ?? []) endSpan(entry.span, "connection closed");
    this.inflight = undefined;
  }

  /** Catches up, for when live messages may have been missed (e.g. while NATS was unreachable). */
  resync(): void {
    this.feed.resync();
  }

  /** The feed's replay: one page of the device's unacked messages. */
  async replay(after: number | undefined, limit: number): Promise<Page<Delivery>> {
    const reply = await this.deps.replay(this.userId, this.deviceId, after, limit);
    // Before the messages after it, so the client knows where the loss lies.
    if (reply.gap) this.client.send(gapFrame(reply.gap));
    const items = reply.messages.map((m) => ({
      id: m.id,
      seq: m.seq,
      prev: m.prev,
      ts: m.ts,
      frame: messageFrame(m.id, m.seq, m.data, m.ts),
      trace: m.trace,
    }));
    return { items, scannedTo: reply.scannedTo, done: reply.done };
  }

  /** How many more messages the feed may deliver now. */
  room(): number {
    return this.deps.maxInflight - this.inflightCount;
  }

  /** Applies a client ack; returns the ids this connection never delivered. */
  ack(ids: string[]): readonly string[] {
    const acks: AckedMessage[] = [];
    let unknown: string[] | undefined;
    let spans: Span[] | undefined;
    for (const id of ids) {
      const entry = this.inflight?.take(id);
      if (entry) {
        const span = entry.span;
        const trace = traceparentOf(span);
        if (span) {
          span.addEvent("herald.ack_received");
          spans ??= [];
          spans.push(span);
        }
        acks.push(
          trace ? { id, seq: entry.seq, prev: entry.prev, trace } : { id, seq: entry.seq, prev: entry.prev },
        );
        this.rememberAcked(id);
      } else if (!this.recentlyAcked?.has(id)) {
        unknown ??= [];
        unknown.push(id);
      }
    }
    if (acks.length > 0) this.publishAcks(acks, spans);
    if (this.feed.isPaused && this.inflightCount <= this.deps.maxInflight / 2) this.feed.resume();
    return unknown ?? NONE;
  }

  /** Queues acks; their spans (while tracing) end when the ack bundle is stored. */
  private publishAcks(acks: AckedMessage[], spans?: Span[]): void {
    this.deps.publishAcks(this.userId, this.deviceId, acks, spans && spanReceipt(spans, this.deps.logger));
  }

  /** Sends again whatever has waited longer than the ack timeout; lets go of what is no longer needed. */
  resendOverdue(now: number): void {
    this.recentlyAcked?.prune(now);
    if (this.recentlyAcked?.size === 0) this.recentlyAcked = undefined;
    let resent = 0;
    if (!this.inflight) return;
    for (const entry of this.inflight.values()) {
      if (now - entry.sentAt < this.deps.ackTimeoutMs) continue;
      if (!this.client.send(entry.frame)) return;
      entry.sentAt = now;
      resent++;
    }
    if (resent > 0) this.deps.onDelivered?.(resent, true);
  }

  /** The feed's next message in order. */
  deliver(delivery: Delivery): void {
    if (this.closed) return;
    const earlier = this.inflight?.get(delivery.id);
    if (earlier !== undefined || this.recentlyAcked?.has(delivery.id)) {
      // The same id stored again (a body `id` published without `Nats-Msg-Id`, which the stream cannot
      // deduplicate): the device has it, so this copy counts as acked instead of holding the cursor back.
      if (earlier?.seq !== delivery.seq)
        this.publishAcks([{ id: delivery.id, seq: delivery.seq, prev: delivery.prev }]);
      return;
    }
    const span = delivery.trace ? this.deliverySpan(delivery) : undefined;
    if (!this.client.send(delivery.frame)) {
      endSpan(span, "socket closed");
      return;
    }
    this.inflight ??= new InFlight();
    this.inflight.add(delivery.id, {
      seq: delivery.seq,
      prev: delivery.prev,
      frame: delivery.frame,
      sentAt: Date.now(),
      span,
    });
    this.deps.onDelivered?.(1, false);
  }

  /**
   * One span per delivery, under the router's route span: from the socket write, through the client's ack (an
   * event), to the durable write of the ack bundle that carries it (one span where a send span and an ack span
   * would cost twice the tracing work).
   */
  private deliverySpan(delivery: Delivery): Span | undefined {
    return startSpan("herald.connector.deliver", delivery.trace, SpanKind.PRODUCER, {
      "messaging.message.id": delivery.id,
      "herald.seq": delivery.seq,
      "herald.device_id": this.deviceId,
    });
  }

  /** An id leaving the in-flight map: `deliver` never puts an id there that this memory holds. */
  private rememberAcked(id: string): void {
    this.recentlyAcked ??= new RecentIds(Math.max(1, this.deps.maxInflight * 2), ACKED_MEMORY_MS);
    this.recentlyAcked.addNew(id, Date.now());
  }
}

const NONE: readonly string[] = [];

/** Ends the delivery spans of acks when their bundle is stored; a failure is also logged in their trace. */
function spanReceipt(spans: Span[], logger: Logger): AckReceipt {
  return {
    stored: () => {
      for (const span of spans) endSpan(span);
    },
    failed: (err) => {
      for (const span of spans) endSpan(span, err);
      withSpan(spans[0], () => logger.warn({ err, count: spans.length }, "traced acks not stored"));
    },
  };
}

/** Tells the device that retention removed messages it had not acked (see `GapFrame`). */
export function gapFrame(gap: NonNullable<ReplayReply["gap"]>): string {
  const frame: GapFrame = {
    type: "gap",
    after: gap.after,
    ...(gap.before === undefined ? {} : { before: gap.before }),
    reason: "retention",
  };
  return JSON.stringify(frame);
}
