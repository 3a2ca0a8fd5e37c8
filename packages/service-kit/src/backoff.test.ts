import { describe, expect, it } from "vitest";
import { backoffMs, sleep } from "./backoff.js";

describe("backoffMs", () => {
  it("doubles from the initial delay and stops at the cap", () => {
    const b = { initialMs: 250, maxMs: 5_000 };
    expect([0, 1, 2, 3, 4, 5, 6].map((a) => backoffMs(a, b))).toEqual([
      250, 500, 1000, 2000, 4000, 5000, 5000,
    ]);
    expect(backoffMs(1_100, b)).toBe(5_000);
    expect(backoffMs(-3, b)).toBe(250);
  });
});

describe("sleep", () => {
  it("ends at once when aborted", async () => {
    const abort = new AbortController();
    const slept = sleep(60_000, abort.signal);
    abort.abort();
    await expect(slept).resolves.toBeUndefined();
  });
  it("does not wait at all on an aborted signal", async () => {
    await expect(sleep(60_000, AbortSignal.abort())).resolves.toBeUndefined();
  });
});
