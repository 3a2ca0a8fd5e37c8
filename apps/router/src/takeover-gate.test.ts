import { describe, expect, it } from "vitest";
import { type ConsumerCounts, TakeoverGate } from "./takeover-gate.js";

type Item = { seq: number; delivery: number };

/**
 * A consumer as the server counts it: the sequences delivered and unacked, the highest delivered and the
 * deliveries made. `deliverFresh` hands the gate new sequences; `redeliver` hands back one that was out of our
 * hands; `inFlight` counts a delivery that has not reached the gate yet.
 */
function fakeConsumer(before: { unacked: number[]; deliveredSeq: number }) {
  const unacked = new Set(before.unacked);
  let deliveredSeq = before.deliveredSeq;
  let deliveries = 100;
  let failing = false;
  const forwarded: Item[] = [];
  const handedBack: Item[] = [];
  const keptAlive: number[] = [];
  const counts = (): ConsumerCounts => ({ unacked: unacked.size, deliveredSeq, deliveries });
  const atTakeover = counts();
  return {
    forwarded,
    handedBack,
    keptAlive,
    /** A gate over this consumer; by default it never keeps alive and never gives up. */
    gate(timing: { keepAliveMs?: number; deadlineMs?: number } = {}) {
      return new TakeoverGate<Item>({
        atTakeover,
        seqOf: (item) => item.seq,
        forward: (item) => forwarded.push(item),
        handBack: (item) => handedBack.push(item),
        keepAlive: (item) => keptAlive.push(item.seq),
        counts: async () => {
          if (failing) throw new Error("no responders");
          return counts();
        },
        pollMs: 2,
        keepAliveMs: timing.keepAliveMs ?? 1e9,
        deadlineMs: timing.deadlineMs ?? 1e9,
      });
    },
    deliverFresh(gate: TakeoverGate<Item>, seq: number) {
      deliveredSeq = Math.max(deliveredSeq, seq);
      unacked.add(seq);
      deliveries++;
      gate.accept({ seq, delivery: 1 });
    },
    redeliver(gate: TakeoverGate<Item>, seq: number, delivery = 2) {
      deliveries++;
      gate.accept({ seq, delivery });
    },
    /** Redelivered by the server, not yet received: returns what hands it over. */
    inFlight(gate: TakeoverGate<Item>, seq: number) {
      deliveries++;
      return () => gate.accept({ seq, delivery: 2 });
    },
    /** The old leader, still alive, acks one it held. */
    ackElsewhere(seq: number) {
      unacked.delete(seq);
    },
    fail(value: boolean) {
      failing = value;
    },
  };
}

const seqs = (items: Item[]) => items.map((item) => item.seq);
const until = async (check: () => boolean) => {
  for (const deadline = Date.now() + 2_000; !check(); ) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
};

describe("TakeoverGate", () => {
  it("lets everything straight through when nothing was left unacked", async () => {
    const c = fakeConsumer({ unacked: [], deliveredSeq: 7 });
    const gate = c.gate();
    const outcome = await gate.gather(new AbortController().signal);
    expect(outcome).toMatchObject({ kind: "complete", inherited: 0, newer: 0 });
    c.deliverFresh(gate, 8);
    expect(seqs(c.forwarded)).toEqual([8]);
  });

  it("holds what comes until the inherited messages are all in hand, then routes in stream order", async () => {
    const c = fakeConsumer({ unacked: [8, 9, 10], deliveredSeq: 10 });
    const gate = c.gate();
    const gathered = gate.gather(new AbortController().signal);
    // Redelivered in expiry order, with fresh messages in between: 9 was nak'd with a delay.
    c.redeliver(gate, 10);
    c.deliverFresh(gate, 11);
    c.redeliver(gate, 8);
    c.deliverFresh(gate, 12);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(gate.gathering).toBe(true);
    expect(c.forwarded).toEqual([]);
    c.redeliver(gate, 9);
    expect(await gathered).toMatchObject({ kind: "complete", inherited: 3, newer: 2, missing: 0 });
    expect(seqs(c.forwarded)).toEqual([8, 9, 10, 11, 12]);
    c.deliverFresh(gate, 13);
    expect(seqs(c.forwarded)).toEqual([8, 9, 10, 11, 12, 13]);
  });

  it("does not wait for what the old leader acked itself", async () => {
    const c = fakeConsumer({ unacked: [4, 5], deliveredSeq: 5 });
    const gate = c.gate();
    const gathered = gate.gather(new AbortController().signal);
    c.redeliver(gate, 5);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(gate.gathering).toBe(true);
    c.ackElsewhere(4);
    expect(await gathered).toMatchObject({ kind: "complete", inherited: 1 });
    expect(seqs(c.forwarded)).toEqual([5]);
  });

  it("counts a sequence delivered twice once and routes its latest delivery", async () => {
    const c = fakeConsumer({ unacked: [1, 2], deliveredSeq: 2 });
    const gate = c.gate();
    const gathered = gate.gather(new AbortController().signal);
    c.redeliver(gate, 2, 2);
    c.redeliver(gate, 2, 3);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(gate.gathering).toBe(true);
    c.redeliver(gate, 1);
    await gathered;
    expect(c.forwarded).toEqual([
      { seq: 1, delivery: 2 },
      { seq: 2, delivery: 3 },
    ]);
  });

  it("keeps held messages alive while it waits", async () => {
    const c = fakeConsumer({ unacked: [1, 2], deliveredSeq: 2 });
    const gate = c.gate({ keepAliveMs: 5 });
    const gathered = gate.gather(new AbortController().signal);
    c.redeliver(gate, 2);
    c.deliverFresh(gate, 3);
    await until(() => c.keptAlive.includes(2) && c.keptAlive.includes(3));
    c.redeliver(gate, 1);
    await gathered;
    expect(seqs(c.forwarded)).toEqual([1, 2, 3]);
  });

  it("routes what it has at the deadline when an inherited message never comes back", async () => {
    const c = fakeConsumer({ unacked: [1, 2], deliveredSeq: 2 });
    const gate = c.gate({ deadlineMs: 30 });
    const gathered = gate.gather(new AbortController().signal);
    c.redeliver(gate, 2);
    c.deliverFresh(gate, 3);
    expect(await gathered).toMatchObject({ kind: "deadline", inherited: 1, newer: 1, missing: 1 });
    expect(seqs(c.forwarded)).toEqual([2, 3]);
  });

  it("keeps waiting while the consumer counts cannot be read, and gives up only at the deadline", async () => {
    const c = fakeConsumer({ unacked: [1], deliveredSeq: 1 });
    const gate = c.gate();
    c.fail(true);
    const gathered = gate.gather(new AbortController().signal);
    c.redeliver(gate, 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(gate.gathering).toBe(true);
    c.fail(false);
    expect(await gathered).toMatchObject({ kind: "complete", inherited: 1 });
  });

  it("hands back, in stream order, what it holds and what comes later when the session ends first", async () => {
    const c = fakeConsumer({ unacked: [1, 2, 3], deliveredSeq: 3 });
    const gate = c.gate();
    const lost = new AbortController();
    const gathered = gate.gather(lost.signal);
    c.redeliver(gate, 3);
    c.redeliver(gate, 1);
    lost.abort();
    expect(await gathered).toEqual({ kind: "aborted", handedBack: 2 });
    c.redeliver(gate, 2);
    expect(seqs(c.handedBack)).toEqual([1, 3, 2]);
    expect(c.forwarded).toEqual([]);
  });

  it("reads a lane's part of the stream: other lanes' sequences after the takeover do not count as ours", async () => {
    const c = fakeConsumer({ unacked: [8], deliveredSeq: 10 });
    const gate = c.gate();
    const gathered = gate.gather(new AbortController().signal);
    // Sequences 11 to 49 went to other lanes' consumers.
    c.deliverFresh(gate, 50);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(gate.gathering).toBe(true);
    c.redeliver(gate, 8);
    expect(await gathered).toMatchObject({ kind: "complete", inherited: 1, newer: 1 });
    expect(seqs(c.forwarded)).toEqual([8, 50]);
  });

  it("waits for a delivery on its way, which may be an inherited one", async () => {
    const c = fakeConsumer({ unacked: [3], deliveredSeq: 3 });
    const gate = c.gate();
    const gathered = gate.gather(new AbortController().signal);
    c.deliverFresh(gate, 4);
    const arrive = c.inFlight(gate, 3);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(gate.gathering).toBe(true);
    arrive();
    expect(await gathered).toMatchObject({ kind: "complete", inherited: 1, newer: 1 });
    expect(seqs(c.forwarded)).toEqual([3, 4]);
  });
});
