import { describe, expect, it, vi } from "vitest";
import { backoffMs, sleep, WakeableSleeps } from "./backoff.js";

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

describe("WakeableSleeps", () => {
  it("sleeps out the back-off unless woken; wakeAll ends every sleep at once", async () => {
    vi.useFakeTimers();
    try {
      const sleeps = new WakeableSleeps();
      const ended: string[] = [];
      void sleeps.sleep(0, { initialMs: 100, maxMs: 1_000 }).then(() => ended.push("short"));
      void sleeps.sleep(5, { initialMs: 100, maxMs: 1_000 }).then(() => ended.push("long a"));
      void sleeps.sleep(6, { initialMs: 100, maxMs: 1_000 }).then(() => ended.push("long b"));
      expect(sleeps.sleeping).toBe(3);
      await vi.advanceTimersByTimeAsync(100);
      expect(ended).toEqual(["short"]);
      expect(sleeps.wakeAll()).toBe(2);
      await vi.advanceTimersByTimeAsync(0);
      expect(ended).toEqual(["short", "long a", "long b"]);
      expect(sleeps.sleeping).toBe(0);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
