import { describe, expect, it } from "vitest";
import { DestinationOrder, OrderFenceError } from "./destination-order.js";

/** A write whose PubAck the test answers by hand. */
function pending() {
  let resolve!: (seq: number) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<number>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe("DestinationOrder", () => {
  it("issues the first write to a destination at once, and the next only after its PubAck", async () => {
    const order = new DestinationOrder(10_000);
    const issued: string[] = [];
    const issue = (label: string, result: Promise<number>) => () => {
      issued.push(label);
      return result;
    };
    const first = pending();
    const a1 = order.write("alice", 1, issue("a1", first.promise));
    const b1 = order.write("bob", 2, issue("b1", Promise.resolve(2)));
    const a2 = order.write("alice", 3, issue("a2", Promise.resolve(3)));
    expect(issued).toEqual(["a1", "b1"]); // other destinations do not wait
    first.resolve(1);
    expect(await a1).toBe(1);
    expect(await a2).toBe(3);
    expect(await b1).toBe(2);
    expect(issued).toEqual(["a1", "b1", "a2"]);
    await flush();
    expect(order.size).toBe(0);
  });

  it("does not issue what follows a failed write, and fences the destination until the failed one is stored", async () => {
    let now = 1_000;
    const order = new DestinationOrder(10_000, () => now);
    const issued: number[] = [];
    const issue = (label: number, result: Promise<number>) => () => {
      issued.push(label);
      return result;
    };
    const lost = pending();
    const m5 = order.write("alice", 5, issue(5, lost.promise));
    const m6 = order.write("alice", 6, issue(6, Promise.resolve(6)));
    lost.reject(new Error("PubAck timed out"));
    await expect(m5).rejects.toThrow(/timed out/);
    await expect(m6).rejects.toThrow(/timed out/); // never issued
    expect(issued).toEqual([5]);

    // The router hands both back; the later one comes back after the blocker.
    expect(order.block(["alice"], 5, 1_500)).toBe(1_500);
    expect(order.block(["alice"], 6, 1_500)).toBe(1_600);

    // 6 comes back first: fenced, not written.
    now = 1_550;
    await expect(order.write("alice", 6, issue(6, Promise.resolve(6)))).rejects.toBeInstanceOf(
      OrderFenceError,
    );
    // 5 comes back and is stored; then 6 goes through.
    expect(await order.write("alice", 5, issue(5, Promise.resolve(5)))).toBe(5);
    await flush();
    expect(await order.write("alice", 6, issue(6, Promise.resolve(6)))).toBe(6);
    expect(issued).toEqual([5, 5, 6]);
  });

  it("keeps every message handed back in order, whatever order they come back in once the first is stored", async () => {
    let now = 1_000;
    const order = new DestinationOrder(10_000, () => now);
    const stored: number[] = [];
    const store = (seq: number) => () => {
      stored.push(seq);
      return Promise.resolve(seq);
    };
    // 5 failed; 6 and 9 arrived while it waited and were fenced.
    order.block(["alice"], 5, 1_500);
    for (const seq of [6, 9]) {
      await expect(order.write("alice", seq, store(seq))).rejects.toBeInstanceOf(OrderFenceError);
      order.block(["alice"], seq, 1_250);
    }
    now = 1_600;
    expect(await order.write("alice", 5, store(5))).toBe(5);
    await flush();
    // 9 comes back before 6 (a shorter back-off, or the server's expiry order): still fenced.
    await expect(order.write("alice", 9, store(9))).rejects.toBeInstanceOf(OrderFenceError);
    order.block(["alice"], 9, 1_850);
    expect(await order.write("alice", 6, store(6))).toBe(6);
    await flush();
    expect(await order.write("alice", 9, store(9))).toBe(9);
    await flush();
    expect(stored).toEqual([5, 6, 9]);
    expect(order.size).toBe(0);
  });

  it("lets a block lapse when the blocker never comes back, and forgets all blocks on reset", async () => {
    let now = 0;
    const order = new DestinationOrder(1_000, () => now);
    order.block(["alice", "bob"], 5, 500);
    now = 1_000;
    await expect(order.write("alice", 6, () => Promise.resolve(6))).rejects.toBeInstanceOf(OrderFenceError);
    now = 1_501;
    expect(await order.write("alice", 6, () => Promise.resolve(6))).toBe(6);
    order.reset();
    expect(await order.write("bob", 7, () => Promise.resolve(7))).toBe(7);
  });
});
