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
  });
});
