import { describe, expect, it } from "vitest";
import { bucketsDelta, hopLag, parseBuckets } from "./hop-lag.js";

const page = (counts: Record<string, number>, labels = 'service="router"') =>
  Object.entries(counts)
    .map(([le, n]) => `herald_router_intake_lag_seconds_bucket{le="${le}",${labels}} ${n}`)
    .concat(["herald_router_intake_lag_seconds_sum 1.5", "herald_router_intake_lag_seconds_count 100"])
    .join("\n");

describe("hop lag from a service's histogram", () => {
  it("reads cumulative buckets, +Inf as Infinity, and sums the series that match the labels", () => {
    const text = [
      page({ "0.01": 3, "+Inf": 4 }, 'kind="user"'),
      page({ "0.01": 10, "+Inf": 10 }, 'kind="channel"'),
    ].join("\n");
    expect(parseBuckets(text, "herald_router_intake_lag_seconds", 'kind="user"')).toEqual(
      new Map([
        [0.01, 3],
        [Number.POSITIVE_INFINITY, 4],
      ]),
    );
    expect(parseBuckets(text, "herald_router_intake_lag_seconds").get(0.01)).toBe(13);
    expect(parseBuckets("", "herald_router_intake_lag_seconds").size).toBe(0);
  });

  it("takes what was counted between two scrapes, and reads percentiles as bucket edges", () => {
    const before = parseBuckets(
      page({ "0.005": 50, "0.02": 50, "0.05": 50, "+Inf": 50 }),
      "herald_router_intake_lag_seconds",
    );
    const after = parseBuckets(
      page({ "0.005": 110, "0.02": 148, "0.05": 149, "+Inf": 150 }),
      "herald_router_intake_lag_seconds",
    );
    expect(hopLag(bucketsDelta(before, after))).toEqual({
      messages: 100,
      p50AtMostMs: 5,
      p99AtMostMs: 50,
      within20Ms: 0.98,
    });
  });

  it("says null when a percentile is past the last edge, and nothing when nothing was counted", () => {
    const slow = parseBuckets(page({ "0.02": 1, "10": 1, "+Inf": 100 }), "herald_router_intake_lag_seconds");
    expect(hopLag(slow)).toMatchObject({ p50AtMostMs: null, p99AtMostMs: null, within20Ms: 0.01 });
    expect(hopLag(new Map())).toBeUndefined();
  });
});
