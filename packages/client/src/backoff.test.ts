import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { backoffCeiling, backoffDelay } from "./backoff.js";

const options = { initialDelayMs: 500, maxDelayMs: 30_000 };

describe("backoffDelay", () => {
  it("doubles the window each attempt up to the cap", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((attempt) => backoffCeiling(attempt, options))).toEqual([
      500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000,
    ]);
  });

  it("spans the whole window: 0 at the bottom, just under the ceiling at the top", () => {
    expect(backoffDelay(3, options, () => 0)).toBe(0);
    expect(backoffDelay(3, options, () => 0.5)).toBe(2000);
    expect(backoffDelay(3, options, () => 0.999_999)).toBe(3999);
    expect(backoffDelay(20, options, () => 0.999_999)).toBe(29_999);
  });

  it("does not overflow for huge attempt counts", () => {
    expect(backoffCeiling(5000, options)).toBe(30_000);
    expect(backoffDelay(Number.MAX_SAFE_INTEGER, options, () => 0.5)).toBe(15_000);
  });

  it("stays within [0, min(max, initial * 2^attempt)) for any attempt and random value", () => {
    fc.assert(
      fc.property(
        fc.nat(2000),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 600_000 }),
        (attempt, r, initialDelayMs, maxDelayMs) => {
          const delay = backoffDelay(attempt, { initialDelayMs, maxDelayMs }, () => r);
          const ceiling = Math.min(maxDelayMs, initialDelayMs * 2 ** attempt);
          expect(Number.isInteger(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThan(ceiling);
        },
      ),
    );
  });

  it("uses Math.random by default and stays in bounds", () => {
    for (let i = 0; i < 1000; i++) {
      const delay = backoffDelay(2, options);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(2000);
    }
  });
});
