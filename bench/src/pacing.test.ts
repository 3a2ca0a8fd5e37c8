import { describe, expect, it } from "vitest";
import { dueCount, windowed } from "./pacing.js";

describe("windowed", () => {
  it("calls every index once and never has more than the window unsettled", async () => {
    let inFlight = 0;
    let most = 0;
    const seen: number[] = [];
    await windowed(200, 7, async (i) => {
      inFlight++;
      most = Math.max(most, inFlight);
      seen.push(i);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight--;
    });
    expect(most).toBe(7);
    expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it("rejects with the first failure", async () => {
    await expect(
      windowed(10, 3, async (i) => {
        if (i === 4) throw new Error("nope");
      }),
    ).rejects.toThrow("nope");
  });

  it("resolves at once for nothing to do", async () => {
    await expect(windowed(0, 3, async () => {})).resolves.toBeUndefined();
  });
});

describe("dueCount", () => {
  it("follows the rate and stops at the total", () => {
    expect(dueCount(5_000, 0, 50_000)).toBe(0);
    expect(dueCount(5_000, 1, 50_000)).toBe(5);
    expect(dueCount(5_000, 1_000.5, 50_000)).toBe(5_002);
    expect(dueCount(5_000, 60_000, 50_000)).toBe(50_000);
  });
});
