import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { percentile, perSecond, ratio, summarizeLatencies } from "./stats.js";

describe("percentile", () => {
  it("uses the nearest rank", () => {
    const values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(values, 50)).toBe(5);
    expect(percentile(values, 90)).toBe(9);
    expect(percentile(values, 99)).toBe(10);
    expect(percentile(values, 100)).toBe(10);
    expect(percentile(values, 0)).toBe(1);
    expect(percentile([7], 99)).toBe(7);
  });

  it("is NaN for no values", () => {
    expect(percentile([], 50)).toBeNaN();
  });

  it("returns a member with at least p% of the values at or below it, and fewer strictly below", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 1_000_000 }), { minLength: 1, maxLength: 300 }),
        fc.integer({ min: 1, max: 100 }),
        (values, p) => {
          const sorted = [...values].sort((a, b) => a - b);
          const result = percentile(sorted, p);
          expect(sorted).toContain(result);
          const atOrBelow = sorted.filter((v) => v <= result).length;
          const below = sorted.filter((v) => v < result).length;
          expect(atOrBelow / sorted.length).toBeGreaterThanOrEqual(p / 100);
          expect(below / sorted.length).toBeLessThan(p / 100);
        },
      ),
    );
  });
});

describe("summarizeLatencies", () => {
  it("turns unsorted microseconds into millisecond percentiles", () => {
    const micros = Array.from({ length: 1000 }, (_, i) => (1000 - i) * 10); // 10 µs .. 10 ms, reversed
    expect(summarizeLatencies(micros)).toEqual({
      count: 1000,
      p50: 5,
      p90: 9,
      p99: 9.9,
      max: 10,
      mean: 5.005,
    });
  });

  it("reports NaN figures for no samples", () => {
    const summary = summarizeLatencies([]);
    expect(summary.count).toBe(0);
    expect(summary.p99).toBeNaN();
  });
});

describe("rates and ratios", () => {
  it("computes events per second from microseconds", () => {
    expect(perSecond(50_000, 10_000_000)).toBe(5_000);
    expect(perSecond(10, 0)).toBe(0);
  });

  it("gives null when a side is missing", () => {
    expect(ratio(1, 4)).toBe(0.25);
    expect(ratio(undefined, 4)).toBeNull();
    expect(ratio(1, 0)).toBeNull();
    expect(ratio(Number.NaN, 2)).toBeNull();
  });
});
