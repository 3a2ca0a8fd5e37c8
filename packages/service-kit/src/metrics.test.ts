import { describe, expect, it } from "vitest";
import { STORE_LAG_BUCKETS, secondsSinceStored } from "./metrics.js";

describe("secondsSinceStored", () => {
  it("is the time since the server stored the message, in seconds", () => {
    expect(secondsSinceStored(1_000, 1_250)).toBe(0.25);
  });

  it("reads a host clock behind the server's as no lag, never negative", () => {
    expect(secondsSinceStored(2_000, 1_990)).toBe(0);
  });

  it("has the 20 ms target as a bucket edge", () => {
    expect(STORE_LAG_BUCKETS).toContain(0.02);
    expect([...STORE_LAG_BUCKETS].sort((a, b) => a - b)).toEqual(STORE_LAG_BUCKETS);
  });
});
