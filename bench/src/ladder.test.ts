import { describe, expect, it } from "vitest";
import {
  bestHighest,
  climb,
  LADDER_DRAIN_BOUND_MS,
  type LadderResult,
  passingP99At,
  type StepMeasure,
  stepAt,
  verdict,
} from "./ladder.js";

const latencyMs = (p99: number) => ({ count: 1, p50: p99 / 4, p90: p99 / 2, p99, max: p99, mean: p99 / 3 });
const measure = (over: Partial<StepMeasure> = {}): StepMeasure => ({
  offeredRate: 5_000,
  durationMs: 5_000,
  messages: 25_000,
  delivered: 25_000,
  duplicates: 0,
  publishErrors: 0,
  drainMs: 3,
  latencyMs: latencyMs(2),
  ...over,
});

describe("verdict", () => {
  it("passes a step that delivered everything in time, duplicates allowed", () => {
    expect(verdict(measure({ duplicates: 12 }))).toEqual({ pass: true });
    expect(verdict(measure({ acked: 25_000, drainMs: LADDER_DRAIN_BOUND_MS }))).toEqual({ pass: true });
  });

  it("fails a lost message, a missing ack, a publish error, a late or never-finished drain", () => {
    expect(verdict(measure({ delivered: 24_999 }))).toEqual({ pass: false, reason: "lost 1 of 25000" });
    expect(verdict(measure({ acked: 24_990 }))).toEqual({ pass: false, reason: "10 of 25000 not acked" });
    expect(verdict(measure({ publishErrors: 2 }))).toEqual({ pass: false, reason: "2 publish errors" });
    expect(verdict(measure({ drainMs: null }))).toEqual({ pass: false, reason: "did not drain" });
    expect(verdict(measure({ drainMs: LADDER_DRAIN_BOUND_MS + 1 }))).toMatchObject({ pass: false });
    expect(verdict(measure({ drainMs: 900 }), 1_000)).toEqual({ pass: true });
  });

  it("judges loss before lag: a step that lost messages says so even if it also drained late", () => {
    expect(verdict(measure({ delivered: 20_000, drainMs: null }))).toEqual({
      pass: false,
      reason: "lost 5000 of 25000",
    });
  });
});

/** A fake system that keeps up to `capacity` msg/s, and fails the listed (rate, attempt) pairs once. */
function fakeSystem(capacity: number, flaky: string[] = []) {
  const calls: string[] = [];
  const step = async (rate: number, attempt: number): Promise<StepMeasure> => {
    calls.push(`${rate}#${attempt}`);
    const stalled = flaky.includes(`${rate}#${attempt}`);
    return measure({
      offeredRate: rate,
      messages: rate * 5,
      delivered: rate * 5,
      drainMs: rate <= capacity && !stalled ? 10 : 4_000,
      latencyMs: latencyMs(rate / 1_000),
    });
  };
  return { step, calls };
}

describe("climb", () => {
  it("stops at the first rate that fails twice and reports the rate below it", async () => {
    const system = fakeSystem(20_000);
    const ladder = await climb([5_000, 10_000, 20_000, 40_000, 80_000], system.step, { stepMs: 5_000 });
    expect(ladder.highestPassingRate).toBe(20_000);
    expect(ladder.failedRate).toBe(40_000);
    expect(system.calls).toEqual(["5000#1", "10000#1", "20000#1", "40000#1", "40000#2"]);
    expect(ladder.steps.map((s) => s.pass)).toEqual([true, true, true, false, false]);
    expect(ladder.steps.at(-1)?.reason).toMatch(/drained 4000 ms/);
  });

  it("retries a rate that failed once and climbs on when the retry passes", async () => {
    const system = fakeSystem(10_000, ["5000#1"]);
    const ladder = await climb([5_000, 10_000, 20_000], system.step, { stepMs: 5_000 });
    expect(system.calls).toEqual(["5000#1", "5000#2", "10000#1", "20000#1", "20000#2"]);
    expect(ladder.highestPassingRate).toBe(10_000);
    expect(stepAt(ladder, 5_000)).toMatchObject({ attempt: 2, pass: true });
  });

  it("has no passing rate when the first fails, and none failed when every rate passes", async () => {
    const low = await climb([5_000, 10_000], fakeSystem(1_000).step, { stepMs: 5_000 });
    expect(low).toMatchObject({ highestPassingRate: null, failedRate: 5_000 });
    const high = await climb([5_000, 10_000], fakeSystem(1e6).step, { stepMs: 5_000 });
    expect(high).toMatchObject({ highestPassingRate: 10_000, failedRate: null });
    expect(high.drainBoundMs).toBe(LADDER_DRAIN_BOUND_MS);
  });
});

describe("reading a ladder", () => {
  const ladder = async (capacity: number) =>
    climb([5_000, 10_000, 20_000], fakeSystem(capacity).step, { stepMs: 5_000 });

  it("takes p99 only from a passing step", async () => {
    const l = await ladder(5_000);
    expect(passingP99At(l, 5_000)).toBe(5);
    expect(passingP99At(l, 10_000)).toBeNull();
    expect(stepAt(l, 10_000)).toMatchObject({ attempt: 2, pass: false });
    expect(passingP99At(l, 20_000)).toBeNull();
    expect(passingP99At(undefined, 5_000)).toBeNull();
  });

  it("takes the best of several ladders of one system", async () => {
    const none: LadderResult = { ...(await ladder(1)), highestPassingRate: null };
    expect(bestHighest([await ladder(5_000), await ladder(10_000), none, undefined])).toBe(10_000);
    expect(bestHighest([none, undefined])).toBeNull();
  });
});
