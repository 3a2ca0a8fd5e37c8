import type { AckedMessage, ReplayReply } from "@herald/protocol";
import type { Logger } from "@herald/service-kit";
import { type Delivery, type FeedListener, messageFrame } from "./user-feeds.js";

export type SessionDeps = {
  userId: string;
  deviceId: string;
  /** Starts following the user's live subject; returns the function that stops. */
  follow: (listener: FeedListener) => () => void;
  /** One page of unacked messages after `after` (the device's cursor when undefined). */
  replay: (after: number | undefined, limit: number) => Promise<ReplayReply>;
  publishAcks: (acks: AckedMessage[]) => Promise<void>;
  /** Sends a frame; false when the socket can take no more (it is then being closed). */
  send: (frame: string) => boolean;
  maxInflight: number;
  ackTimeoutMs: number;
  replayPage: number;
  logger: Logger;
  onDelivered?: (count: number, resent: boolean) => void;
};

type Inflight = { seq: number; prev: number; frame: string; sentAt: number };

/** Live messages held while a catch-up runs; past this the catch-up simply replays them. */
const MAX_BUFFERED_LIVE = 10_000;
const MAX_REPLAY_BACKOFF_MS = 5_000;

/**
 * Delivery state of one connection: merges replay from persistence with the live feed so each message goes
 * out once, in order, with no gap; remembers what is unacked, resends it after a timeout, and stops taking
 * new messages when too many are unacked (they are replayed once acks make room).
 *
 * `scannedTo` is the highest mailbox seq handled in order. A live message is next when its `prev` (the
 * user's previous seq) is at or below it; anything else means a message was missed and triggers a replay.
 */
export class Session {
  private scannedTo: number | undefined;
  private mode: "catchup" | "live" = "catchup";
  private paused = false;
  private closed = false;
  private buffer: Delivery[] = [];
  private bufferOverflowed = false;
  private catching: Promise<void> | undefined;
  private readonly inflight = new Map<string, Inflight>();
  private readonly recentlyAcked = new Set<string>();
  private unfollow: (() => void) | undefined;

  constructor(private readonly deps: SessionDeps) {}

  get inflightCount(): number {
    return this.inflight.size;
  }

  start(): void {
    // Follow first, then replay: anything stored after the replay's end is then seen live.
    this.unfollow = this.deps.follow((delivery) => this.onLive(delivery));
    this.catchUp();
  }

  close(): void {
    this.closed = true;
    this.unfollow?.();
    this.buffer = [];
    this.inflight.clear();
  }

  /**
   * Catches up from where delivery stands, for when live messages may have been missed without a later one
   * revealing the gap (e.g. while this connector's NATS connection was down).
   */
  resync(): void {
    if (this.closed || this.paused) return;
    this.mode = "catchup";
    this.catchUp();
  }

  /** Applies a client ack; returns the ids this connection never delivered. */
  ack(ids: string[]): string[] {
    const acks: AckedMessage[] = [];
    const unknown: string[] = [];
    for (const id of ids) {
      const entry = this.inflight.get(id);
      if (entry) {
        this.inflight.delete(id);
        acks.push({ id, seq: entry.seq, prev: entry.prev });
        this.rememberAcked(id);
      } else if (!this.recentlyAcked.has(id)) {
        unknown.push(id);
      }
    }
    if (acks.length > 0) {
      this.deps.publishAcks(acks).catch((err: unknown) => {
        // The messages stay unacked in the cursor and come again on the next connection.
        this.deps.logger.warn({ err, count: acks.length }, "ack publish failed");
      });
    }
    if (this.paused && this.inflight.size <= this.deps.maxInflight / 2) {
      this.paused = false;
      this.mode = "catchup";
      this.catchUp();
    }
    return unknown;
  }

  /** Sends again whatever has waited longer than the ack timeout. */
  resendOverdue(now: number): void {
    let resent = 0;
    for (const entry of this.inflight.values()) {
      if (now - entry.sentAt < this.deps.ackTimeoutMs) continue;
      if (!this.deps.send(entry.frame)) return;
      entry.sentAt = now;
      resent++;
    }
    if (resent > 0) this.deps.onDelivered?.(resent, true);
  }

  private onLive(delivery: Delivery): void {
    if (this.closed || this.paused) return;
    if (this.mode === "catchup") {
      if (this.buffer.length >= MAX_BUFFERED_LIVE) {
        this.buffer = [];
        this.bufferOverflowed = true;
      } else if (!this.bufferOverflowed) {
        this.buffer.push(delivery);
      }
      return;
    }
    const scanned = this.scannedTo ?? 0;
    if (delivery.seq <= scanned) return;
    if (delivery.prev <= scanned) {
      this.deliver(delivery);
      return;
    }
    this.mode = "catchup";
    this.buffer = [delivery];
    this.catchUp();
  }

  private deliver(delivery: Delivery): void {
    this.scannedTo = Math.max(this.scannedTo ?? 0, delivery.seq);
    if (this.inflight.has(delivery.id)) return;
    if (!this.deps.send(delivery.frame)) return;
    this.inflight.set(delivery.id, {
      seq: delivery.seq,
      prev: delivery.prev,
      frame: delivery.frame,
      sentAt: Date.now(),
    });
    this.deps.onDelivered?.(1, false);
    if (this.inflight.size >= this.deps.maxInflight) this.paused = true;
  }

  private catchUp(): void {
    if (this.catching || this.closed) return;
    this.catching = this.runCatchUp().finally(() => {
      this.catching = undefined;
    });
  }

  private async runCatchUp(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      try {
        if (await this.replayToEnd()) return;
        if (this.mergeBuffer()) return;
        failures = 0;
      } catch (err) {
        failures++;
        this.deps.logger.warn({ err, userId: this.deps.userId }, "replay failed; retrying");
        await new Promise((resolve) =>
          setTimeout(resolve, Math.min(MAX_REPLAY_BACKOFF_MS, 250 * 2 ** failures)),
        );
      }
    }
  }

  /** Pages through replay until the end of the mailbox; true when it stopped because the window is full. */
  private async replayToEnd(): Promise<boolean> {
    for (;;) {
      const room = this.deps.maxInflight - this.inflight.size;
      if (room <= 0) return this.pause();
      const reply = await this.deps.replay(this.scannedTo, Math.min(this.deps.replayPage, room));
      if (this.closed) return true;
      for (const m of reply.messages) {
        if (this.scannedTo !== undefined && m.seq <= this.scannedTo) continue;
        this.deliver({ id: m.id, seq: m.seq, prev: m.prev, frame: messageFrame(m.id, m.seq, m.data, m.ts) });
        if (this.paused) return this.pause();
      }
      this.scannedTo = Math.max(this.scannedTo ?? 0, reply.scannedTo);
      if (reply.done) return false;
    }
  }

  /** Moves buffered live messages out in order; true when the session is live (or paused) afterwards. */
  private mergeBuffer(): boolean {
    if (this.bufferOverflowed) {
      this.bufferOverflowed = false;
      this.buffer = [];
      return false;
    }
    const buffered = this.buffer.sort((a, b) => a.seq - b.seq);
    this.buffer = [];
    for (const delivery of buffered) {
      const scanned = this.scannedTo ?? 0;
      if (delivery.seq <= scanned) continue;
      if (delivery.prev > scanned) return false;
      this.deliver(delivery);
      if (this.paused) return this.pause();
    }
    this.mode = "live";
    return true;
  }

  private pause(): true {
    this.paused = true;
    this.buffer = [];
    this.bufferOverflowed = false;
    return true;
  }

  private rememberAcked(id: string): void {
    this.recentlyAcked.add(id);
    if (this.recentlyAcked.size > this.deps.maxInflight * 2) {
      const oldest = this.recentlyAcked.values().next().value;
      if (oldest !== undefined) this.recentlyAcked.delete(oldest);
    }
  }
}
