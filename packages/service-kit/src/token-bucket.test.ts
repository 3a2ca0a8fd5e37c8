import { describe, expect, it } from "vitest";
import { KeyedRateLimit, TokenBucket } from "./token-bucket.js";

describe("TokenBucket", () => {
  it("spends the burst, then refills at the rate", () => {
    let now = 0;
    const bucket = new TokenBucket(10, 3, () => now);
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
    expect(bucket.msUntil(1)).toBeCloseTo(100);
    now = 50;
    expect(bucket.take()).toBe(false);
    expect(bucket.msUntil(1)).toBeCloseTo(50);
    now = 100;
    expect(bucket.take()).toBe(true);
    expect(bucket.full()).toBe(false);
    now = 10_000;
    expect(bucket.full()).toBe(true);
    expect(bucket.msUntil(4)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("TokenBucket.reserve", () => {
  it("queues past the burst in arrival order, and refuses a wait over the maximum without reserving", () => {
    let now = 0;
    const bucket = new TokenBucket(10, 2, () => now);
    expect([bucket.reserve(250), bucket.reserve(250)]).toEqual([0, 0]);
    expect(bucket.reserve(250)).toBeCloseTo(100);
    expect(bucket.reserve(250)).toBeCloseTo(200);
    expect(bucket.reserve(250)).toBeUndefined();
    expect(bucket.reserve(250)).toBeUndefined();
    now = 100;
    // The slot due at 100 ms was taken; the next free one is 200 ms later.
    expect(bucket.reserve(250)).toBeCloseTo(200);
    expect(bucket.take()).toBe(false);
    now = 10_000;
    expect(bucket.full()).toBe(true);
    expect(bucket.reserve(0)).toBe(0);
  });
});

describe("KeyedRateLimit", () => {
  it("limits each key on its own and says how long to wait", () => {
    let now = 0;
    const limit = new KeyedRateLimit(2, 1, 10, () => now);
    expect(limit.take("a")).toBe(0);
    expect(limit.take("a")).toBeCloseTo(500);
    expect(limit.take("b")).toBe(0);
    now = 500;
    expect(limit.take("a")).toBe(0);
  });

  it("forgets full buckets once it holds too many keys, and keeps the ones still limited", () => {
    let now = 0;
    const limit = new KeyedRateLimit(1, 1, 2, () => now);
    limit.take("a");
    now = 5_000;
    limit.take("b");
    limit.take("c"); // "a" is full again and dropped; "b" is not
    expect(limit.size).toBe(2);
    expect(limit.take("b")).toBeGreaterThan(0);
  });
});
