import { describe, expect, it } from "vitest";
import { ReportQueue } from "./report-queue.js";

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("ReportQueue", () => {
  it("keeps each connector's order and lets connectors take turns", async () => {
    const applied: string[] = [];
    const queue = new ReportQueue<string>((item) => applied.push(item));
    for (let i = 0; i < 4; i++) queue.push("a", `a${i}`);
    queue.push("b", "b0");
    queue.push("b", "b1");
    queue.push("c", "c0");
    expect(applied).toEqual([]);
    await tick();
    expect(applied).toEqual(["a0", "b0", "c0", "a1", "b1", "a2", "a3"]);
    expect(queue.length).toBe(0);
  });

  it("applies in slices of the budget, resuming where it stopped", async () => {
    const applied: string[] = [];
    const queue = new ReportQueue<string>((item) => {
      const until = performance.now() + 3;
      while (performance.now() < until);
      applied.push(item);
    }, 1);
    for (let i = 0; i < 3; i++) queue.push("a", `a${i}`);
    queue.push("b", "b0");
    await tick();
    expect(applied).toEqual(["a0"]);
    await tick();
    expect(applied).toEqual(["a0", "b0"]);
    queue.push("c", "c0");
    await tick();
    await tick();
    await tick();
    // `a` was waiting before `c` arrived: it goes first.
    expect(applied).toEqual(["a0", "b0", "a1", "c0", "a2"]);
    queue.stop();
    queue.push("a", "late");
    await tick();
    expect(applied).toHaveLength(5);
  });
});
