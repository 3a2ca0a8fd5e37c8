import { describe, expect, it } from "vitest";
import { PacedSweep } from "./paced-sweep.js";

function sweepOf(size: number, periodMs: number, tickMs: number) {
  const items = new Set(Array.from({ length: size }, (_, i) => i));
  let current: number[] = [];
  const sweep = new PacedSweep(items, periodMs, tickMs, (item) => current.push(item));
  const tick = (now: number) => {
    current = [];
    sweep.tick(now);
    return current;
  };
  return { items, tick };
}

describe("PacedSweep", () => {
  it("spreads one pass over the period, a slice per tick", () => {
    const { tick } = sweepOf(1_000, 1_000, 100);
    const slices = Array.from({ length: 10 }, (_, i) => tick(i * 100));
    expect(slices.map((s) => s.length)).toEqual(Array(10).fill(100));
    expect(slices.flat()).toEqual(Array.from({ length: 1_000 }, (_, i) => i));
  });

  it("starts the next pass one period after the last, not sooner", () => {
    const { tick } = sweepOf(10, 1_000, 100);
    // Ten items at one a tick: the pass ends at 900 ms; nothing until the period is up.
    for (let t = 0; t < 1_000; t += 100) expect(tick(t)).toHaveLength(1);
    expect(tick(950)).toEqual([]);
    expect(tick(1_000)).toEqual([0]);
  });

  it("visits each item about one period after its last visit, in the collection's order", () => {
    const { tick } = sweepOf(50, 500, 100);
    const seenAt = new Map<number, number[]>();
    for (let t = 0; t < 5_000; t += 100)
      for (const item of tick(t)) seenAt.set(item, [...(seenAt.get(item) ?? []), t]);
    for (const times of seenAt.values()) {
      const gaps = times.slice(1).map((t, i) => t - (times[i] ?? 0));
      expect(gaps.every((gap) => gap >= 500 && gap <= 600)).toBe(true);
    }
  });

  it("visits items added during a pass and skips removed ones", () => {
    const { items, tick } = sweepOf(4, 400, 100);
    expect(tick(0)).toEqual([0]);
    items.delete(1);
    items.add(4);
    const rest = [tick(100), tick(200), tick(300)].flat();
    expect(rest).toEqual([2, 3, 4]);
  });

  it("always visits at least one item a tick, and none of an empty collection", () => {
    expect(sweepOf(3, 60_000, 100).tick(0)).toEqual([0]);
    expect(sweepOf(0, 1_000, 100).tick(0)).toEqual([]);
  });
});
