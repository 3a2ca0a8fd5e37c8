import { describe, expect, it } from "vitest";
import { mergeSnapshots, Tally } from "./tally.js";

const data = (ph: number, i: number, t: number) => ({ ph, i, t, p: "" });

describe("Tally", () => {
  it("counts each message of the phase once and records its latency", () => {
    const tally = new Tally();
    tally.reset(3, 10, true);
    tally.receive(data(3, 0, 100), 350);
    tally.receive(data(3, 1, 200), 900);
    tally.receive(data(3, 1, 200), 950); // redelivery
    tally.receive(data(2, 4, 100), 990); // an earlier phase
    tally.receive(data(3, 10, 100), 990); // out of range
    tally.receive(undefined, 999);
    const snap = tally.snapshot(true);
    expect(snap).toMatchObject({ unique: 2, duplicates: 1, stale: 3, lastUs: 900 });
    expect([...(snap.latencies ?? [])]).toEqual([250, 700]);
  });

  it("splits each latency where the message was stored, when the frame says when", () => {
    const tally = new Tally();
    tally.reset(1, 5, true);
    // Published at wall 1_000_000 µs, stored at 1_003 ms, received at wall 1_010_500 µs.
    tally.receive({ ph: 1, i: 0, t: 0, w: 1_000_000, p: "" }, 10_500, 1_003, 1_010_500);
    tally.receive(data(1, 1, 0), 20); // no wall-clock publish time: no split
    tally.receive({ ph: 1, i: 2, t: 0, w: 1_000_000, p: "" }, 30); // no stored time: no split
    const snap = tally.snapshot(true);
    expect([...(snap.latencies ?? [])]).toEqual([10_500, 20, 30]);
    expect([...(snap.stages?.toStored ?? [])]).toEqual([3_000]);
    expect([...(snap.stages?.fromStored ?? [])]).toEqual([7_500]);
    expect(tally.snapshot(false).stages).toBeUndefined();
  });

  it("forgets everything on reset and records latencies only when asked", () => {
    const tally = new Tally();
    tally.reset(1, 5, true);
    tally.receive(data(1, 0, 0), 10);
    tally.reset(2, 5, false);
    tally.receive(data(2, 0, 0), 10);
    expect(tally.snapshot(true)).toMatchObject({ unique: 1, duplicates: 0, stale: 0 });
    expect(tally.snapshot(true).latencies?.length).toBe(0);
    expect(tally.snapshot(false).latencies).toBeUndefined();
  });
});

describe("mergeSnapshots", () => {
  it("adds counts, keeps the latest time and joins latencies", () => {
    const merged = mergeSnapshots([
      { unique: 2, duplicates: 1, stale: 0, lastUs: 50, latencies: Float64Array.of(1, 2) },
      { unique: 3, duplicates: 0, stale: 2, lastUs: 70, latencies: Float64Array.of(3) },
      { unique: 0, duplicates: 0, stale: 0, lastUs: 0 },
    ]);
    expect(merged).toMatchObject({ unique: 5, duplicates: 1, stale: 2, lastUs: 70 });
    expect([...merged.latencies]).toEqual([1, 2, 3]);
    expect([...merged.stages.toStored]).toEqual([]);
  });

  it("joins the stage splits of the processes that recorded them", () => {
    const stages = (to: number, from: number) => ({
      toStored: Float64Array.of(to),
      fromStored: Float64Array.of(from),
    });
    const merged = mergeSnapshots([
      { unique: 1, duplicates: 0, stale: 0, lastUs: 5, latencies: Float64Array.of(9), stages: stages(4, 5) },
      { unique: 0, duplicates: 0, stale: 0, lastUs: 0, latencies: new Float64Array(0) },
      { unique: 1, duplicates: 0, stale: 0, lastUs: 6, latencies: Float64Array.of(7), stages: stages(1, 6) },
    ]);
    expect([...merged.stages.toStored]).toEqual([4, 1]);
    expect([...merged.stages.fromStored]).toEqual([5, 6]);
  });
});
