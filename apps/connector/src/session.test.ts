import type { AckedMessage, ReplayReply } from "@herald/protocol";
import { createLogger } from "@herald/service-kit";
import { describe, expect, it } from "vitest";
import { MAX_BUFFERED_LIVE } from "./gapless-feed.js";
import type { InFlight } from "./in-flight.js";
import { type Delivery, type LiveListener, messageFrame } from "./live-feeds.js";
import { ACKED_MEMORY_MS, Session, type SessionDeps } from "./session.js";

/** A user's mailbox: seqs are global, so a user's own seqs have holes; `prev` links them. */
function mailbox(seqs: number[]) {
  return seqs.map((seq, i) => ({
    id: `m${seq}`,
    seq,
    prev: i === 0 ? 0 : seqs[i - 1]!,
    data: { seq },
    ts: 0,
  }));
}

function harness(options: { stored: number[]; floor?: number; maxInflight?: number; page?: number }) {
  let stored = mailbox(options.stored);
  const sent: { id: string; seq: number }[] = [];
  const acks: AckedMessage[] = [];
  let listener: LiveListener | undefined;
  let replays = 0;
  const gate: { hold?: Promise<void> | undefined } = {};
  const send = (frame: string | Buffer) => {
    const parsed = JSON.parse(frame.toString()) as { id: string; seq: number };
    sent.push({ id: parsed.id, seq: parsed.seq });
    return true;
  };
  const deps: SessionDeps = {
    follow: (_user, feed) => {
      listener = feed;
    },
    unfollow: () => {
      listener = undefined;
    },
    replay: async (_user, _device, after, limit): Promise<ReplayReply> => {
      replays++;
      if (gate.hold) await gate.hold;
      const from = after ?? options.floor ?? 0;
      const rest = stored.filter((m) => m.seq > from);
      const messages = rest.slice(0, limit);
      const last = messages.at(-1)?.seq ?? from;
      return { messages, scannedTo: last, done: messages.length === rest.length };
    },
    publishAcks: async (_user, _device, a) => {
      acks.push(...a);
    },
    maxInflight: options.maxInflight ?? 100,
    ackTimeoutMs: 1_000,
    replayPage: options.page ?? 2,
    logger: createLogger("test", "silent"),
  };
  const session = new Session(deps, "u", "d", { send });
  /** Stores a message and republishes it live (unless `lost`). */
  const publish = (seq: number, lost = false) => {
    const prev = stored.at(-1)?.seq ?? 0;
    const m = { id: `m${seq}`, seq, prev, data: { seq }, ts: 0 };
    stored = [...stored, m];
    const delivery: Delivery = { id: m.id, seq, prev, ts: 0, frame: messageFrame(m.id, seq, m.data, 0) };
    if (!lost) listener?.push(delivery);
  };
  const settle = () => new Promise((resolve) => setTimeout(resolve, 5));
  return {
    session,
    sent,
    acks,
    publish,
    settle,
    gate,
    replays: () => replays,
    live: (d: Delivery) => listener?.push(d),
  };
}

describe("Session", () => {
  it("replays the backlog in pages, then goes live", async () => {
    const h = harness({ stored: [2, 5, 9] });
    h.session.start();
    await h.settle();
    h.publish(12);
    expect(h.sent.map((m) => m.seq)).toEqual([2, 5, 9, 12]);
  });

  it("starts after the cursor floor", async () => {
    const h = harness({ stored: [2, 5, 9], floor: 5 });
    h.session.start();
    await h.settle();
    expect(h.sent.map((m) => m.seq)).toEqual([9]);
  });

  it("merges messages that arrive live during replay without gap or duplicate", async () => {
    const h = harness({ stored: [1, 2, 3] });
    let release: () => void = () => {};
    h.gate.hold = new Promise((resolve) => {
      release = resolve;
    });
    h.session.start();
    h.publish(4); // stored before the replay reads, and seen live too
    h.publish(5);
    h.gate.hold = undefined;
    release();
    await h.settle();
    h.publish(6);
    expect(h.sent.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("holds at most MAX_BUFFERED_LIVE live messages during a catch-up, and replays the rest in order", async () => {
    const h = harness({ stored: [1], maxInflight: 1_000, page: 50 });
    let release: () => void = () => {};
    h.gate.hold = new Promise((resolve) => {
      release = resolve;
    });
    h.session.start();
    const more = Array.from({ length: MAX_BUFFERED_LIVE * 3 }, (_, i) => i + 2);
    for (const seq of more) h.publish(seq);
    h.gate.hold = undefined;
    release();
    for (let k = 0; k < 200 && h.sent.length < more.length + 1; k++) await h.settle();
    expect(h.sent.map((m) => m.seq)).toEqual([1, ...more]);
  });

  it("fills a gap when a live message is lost", async () => {
    const h = harness({ stored: [] });
    h.session.start();
    await h.settle();
    h.publish(1);
    h.publish(2, true);
    h.publish(3);
    await h.settle();
    h.publish(4);
    expect(h.sent.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
  });

  it("drops live duplicates", async () => {
    const h = harness({ stored: [] });
    h.session.start();
    await h.settle();
    h.publish(1);
    h.live({ id: "m1", seq: 1, prev: 0, ts: 0, frame: messageFrame("m1", 1, {}, 0) });
    expect(h.sent.map((m) => m.seq)).toEqual([1]);
  });

  it("sends an id stored twice once, and acks the second copy for the device", async () => {
    const h = harness({ stored: [] });
    h.session.start();
    await h.settle();
    h.live({ id: "same", seq: 1, prev: 0, ts: 0, frame: messageFrame("same", 1, {}, 0) });
    h.live({ id: "same", seq: 2, prev: 1, ts: 0, frame: messageFrame("same", 2, {}, 0) });
    expect(h.sent).toEqual([{ id: "same", seq: 1 }]);
    expect(h.acks).toEqual([{ id: "same", seq: 2, prev: 1 }]);
    h.session.ack(["same"]);
    // Once acked on this connection, a later copy is acked too, not sent.
    h.live({ id: "same", seq: 3, prev: 2, ts: 0, frame: messageFrame("same", 3, {}, 0) });
    expect(h.sent).toHaveLength(1);
    expect(h.acks.map((a) => a.seq)).toEqual([2, 1, 3]);
  });

  it("maps acks to seq and prev, and reports unknown ids", async () => {
    const h = harness({ stored: [3, 7] });
    h.session.start();
    await h.settle();
    expect(h.session.ack(["m7", "nope"])).toEqual(["nope"]);
    expect(h.acks).toEqual([{ id: "m7", seq: 7, prev: 3 }]);
    // A repeated ack of the same id is not an error.
    expect(h.session.ack(["m7"])).toEqual([]);
  });

  it("remembers the last 2 × maxInflight acked ids, forgetting the oldest first", async () => {
    const seqs = Array.from({ length: 10 }, (_, i) => i + 1);
    const h = harness({ stored: seqs, maxInflight: 2, page: 10 });
    h.session.start();
    for (const seq of seqs) {
      await h.settle();
      expect(h.session.ack([`m${seq}`])).toEqual([]);
    }
    // m7..m10 are remembered; m6 and older were evicted, so acking them again reports them unknown.
    expect(h.session.ack(["m7", "m8", "m9", "m10"])).toEqual([]);
    expect(h.session.ack(["m6", "m1"])).toEqual(["m6", "m1"]);
  });

  it("keeps the rest in flight until their acks, and none once the last is acked", async () => {
    const h = harness({ stored: [1, 2, 3] });
    h.session.start();
    await h.settle();
    const held = h.session as unknown as { inflight?: InFlight<unknown> };
    expect(h.session.ack(["m2"])).toEqual([]);
    expect([...(held.inflight?.ids() ?? [])]).toEqual(["m1", "m3"]);
    expect(h.session.ack(["m1", "m3"])).toEqual([]);
    expect(held.inflight?.size).toBe(0);
    expect(h.session.ack(["m3"])).toEqual([]);
    h.publish(4);
    expect(h.sent.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
    expect(h.session.inflightCount).toBe(1);
  });

  it("forgets acked ids after ACKED_MEMORY_MS, and an emptied in-flight map, so a quiet connection holds neither", async () => {
    const h = harness({ stored: [1, 2] });
    h.session.start();
    await h.settle();
    expect(h.session.ack(["m1", "m2"])).toEqual([]);
    expect(h.session.ack(["m1"])).toEqual([]);
    h.session.resendOverdue(Date.now() + ACKED_MEMORY_MS + 1);
    const held = h.session as unknown as { recentlyAcked?: unknown; inflight?: InFlight<unknown> };
    expect(held.recentlyAcked).toBeUndefined();
    expect(held.inflight?.size).toBe(0);
    expect(h.session.ack(["m1"])).toEqual(["m1"]);
    // Delivery goes on after both were let go.
    h.publish(3);
    expect(h.sent.map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(h.session.inflightCount).toBe(1);
    expect(h.session.ack(["m3"])).toEqual([]);
  });

  it("stops at the inflight window and catches up after acks", async () => {
    const h = harness({ stored: [1, 2, 3, 4, 5, 6], maxInflight: 4, page: 10 });
    h.session.start();
    await h.settle();
    expect(h.sent.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
    h.publish(7); // not taken while the window is full
    expect(h.sent).toHaveLength(4);
    h.session.ack(["m1", "m2", "m3"]);
    await h.settle();
    expect(h.sent.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it("resends what stays unacked past the timeout, in order", async () => {
    const h = harness({ stored: [1, 2] });
    h.session.start();
    await h.settle();
    h.session.ack(["m1"]);
    h.session.resendOverdue(Date.now() + 500);
    expect(h.sent).toHaveLength(2);
    h.session.resendOverdue(Date.now() + 2_000);
    expect(h.sent.map((m) => m.seq)).toEqual([1, 2, 2]);
  });
});
