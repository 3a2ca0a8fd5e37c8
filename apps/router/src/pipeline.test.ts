import { describe, expect, it } from "vitest";
import { OrderedPipeline } from "./pipeline.js";

type Gate = { promise: Promise<void>; open: () => void };
const gate = (): Gate => {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
};

describe("OrderedPipeline", () => {
  it("starts tasks in arrival order and never runs more than the limit", async () => {
    const started: number[] = [];
    const gates = new Map<number, Gate>();
    let running = 0;
    let peak = 0;
    const pipeline = new OrderedPipeline<number>(3, (n) => {
      started.push(n);
      running++;
      peak = Math.max(peak, running);
      const g = gate();
      gates.set(n, g);
      return g.promise.then(() => {
        running--;
      });
    });
    for (let n = 0; n < 10; n++) pipeline.push(n);
    expect(started).toEqual([0, 1, 2]);
    expect(pipeline.size).toBe(10);
    // Finishing out of order still starts the next ones in order.
    gates.get(2)?.open();
    await Promise.resolve();
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual([0, 1, 2, 3]);
    for (let n = 0; n < 10; n++) {
      gates.get(n)?.open();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await pipeline.idle();
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(peak).toBe(3);
    expect(pipeline.size).toBe(0);
  });

  it("keeps going when a task throws or rejects", async () => {
    const done: number[] = [];
    const pipeline = new OrderedPipeline<number>(2, (n) => {
      if (n === 1) throw new Error("sync");
      if (n === 2) return Promise.reject(new Error("async"));
      done.push(n);
      return Promise.resolve();
    });
    for (let n = 0; n < 5; n++) pipeline.push(n);
    await pipeline.idle();
    expect(done).toEqual([0, 3, 4]);
  });

  it("is idle at once when empty", async () => {
    const pipeline = new OrderedPipeline<number>(1, () => Promise.resolve());
    await expect(pipeline.idle()).resolves.toBeUndefined();
  });
});
