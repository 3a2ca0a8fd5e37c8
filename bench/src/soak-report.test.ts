import { describe, expect, it } from "vitest";
import { parseOptions } from "./options.js";
import {
  quarterFloors,
  renderSoakChart,
  type SoakResult,
  type SoakSample,
  slope,
  soakLines,
  soakTrends,
  storedSlope,
} from "./soak-report.js";

const MiB = 2 ** 20;

/** Samples every 10 s for `minutes`: `grow(name, minute)` gives RSS. */
function samples(minutes: number, grow: (name: string, minute: number) => number): SoakSample[] {
  return Array.from({ length: minutes * 6 + 1 }, (_, k) => {
    const atSec = k * 10;
    const rss = { connector: grow("connector", atSec / 60), router: grow("router", atSec / 60) };
    return { atSec, rss, heapUsed: { connector: rss.connector / 4 } };
  });
}

describe("the soak part", () => {
  it("fits a least-squares slope", () => {
    expect(
      slope([
        [0, 1],
        [1, 3],
        [2, 5],
      ]),
    ).toBe(2);
    expect(slope([[1, 1]])).toBe(0);
    expect(
      slope([
        [1, 1],
        [1, 5],
      ]),
    ).toBe(0);
  });

  it("takes the trend from the second half: a warm-up that levels off is flat, steady growth is not", () => {
    const trends = soakTrends(
      samples(60, (name, minute) =>
        name === "connector" ? 100 * MiB + Math.min(minute, 20) * MiB : 100 * MiB + minute * 200_000,
      ),
    );
    expect(trends.connector).toMatchObject({
      rssStartBytes: 100 * MiB,
      rssEndBytes: 120 * MiB,
      rssSlopeBytesPerMin: 0,
      heapSlopeBytesPerMin: 0,
      flat: true,
    });
    // 200 kB a minute is 12 MB an hour: over 5 % of ~112 MB.
    expect(trends.router).toMatchObject({ rssSlopeBytesPerMin: 200_000, heapStartBytes: null, flat: false });
    expect(soakTrends([])).toEqual({});
  });

  it("follows the live heap by each window's lowest reading, not the sawtooth of uncollected garbage", () => {
    // Every 10 s for an hour: a floor of 18 MB, garbage piling up 40 kB a sample until a full GC every 15 min.
    const sawtooth: SoakSample[] = Array.from({ length: 361 }, (_, k) => ({
      atSec: k * 10,
      rss: { router: 90 * MiB },
      heapUsed: { router: 18 * MiB + (k % 90) * 40_000 },
    }));
    const trend = soakTrends(sawtooth).router;
    expect(Math.abs(trend?.heapSlopeBytesPerMin ?? 0)).toBeGreaterThan(1_000);
    expect(trend?.heapFloorBytes).toEqual({ first: 18 * MiB, last: 18 * MiB });
    const leaking = sawtooth.map((s) => ({
      ...s,
      heapUsed: { router: (s.heapUsed.router ?? 0) + s.atSec * 1_000 },
    }));
    const floors = soakTrends(leaking).router?.heapFloorBytes;
    expect((floors?.last ?? 0) - (floors?.first ?? 0)).toBeGreaterThan(2 * MiB);
    expect(quarterFloors([], () => 1)).toBeNull();
  });

  it("reports what was lost and each process's trend, as lines and a chart", () => {
    // JetStream's store grows 1 MiB a minute over the run.
    const all = samples(4, () => 50 * MiB).map((s) => ({
      ...s,
      stored: { bytes: (s.atSec / 60) * MiB, messages: s.atSec * 1_000 },
    }));
    const soak: SoakResult = {
      connections: 2_000,
      rate: 1_000,
      minutes: 4,
      published: 240_000,
      publishErrors: 0,
      delivered: 240_000,
      duplicates: 3,
      receipted: 240_000,
      lost: 0,
      closedEarly: 0,
      samples: all,
      trends: soakTrends(all),
      storedSlopeBytesPerMin: storedSlope(all),
      env: { HERALD_RETENTION: "4m" },
      loadAverage: [1, 2],
    };
    const lines = soakLines(soak).join("\n");
    expect(lines).toContain("240000 published, 240000 delivered, 240000 receipted, lost 0");
    expect(lines).toContain("connector 50.0 → 50.0 MiB (0 B/min, flat)");
    expect(lines).toContain(
      "Soak heap floor (lowest reading, first → last quarter): connector 12.5 → 12.5 MiB",
    );
    expect(lines).toContain(
      "Soak JetStream store: 0.0 → 4.0 MiB (0 → 240k messages, second-half slope 1.05M B/min)",
    );
    expect(lines).toContain("service env HERALD_RETENTION=4m");
    expect(storedSlope(samples(4, () => 1))).toBeNull();
    expect(soakLines(undefined)).toEqual([]);
    const svg = renderSoakChart(soak, "t");
    expect(svg).toContain("<polyline");
    expect(svg).toContain("router: 0 B/min");
    expect(svg).not.toMatch(/NaN|undefined/);
  });

  it("runs an hour at 1,000 msg/s over 2,000 connections by default, 2 minutes with --quick", () => {
    expect(parseOptions([], {}, "/b")).toMatchObject({
      soakConnections: 2_000,
      soakRate: 1_000,
      soakMinutes: 60,
    });
    expect(parseOptions(["--quick"], {}, "/b").soakMinutes).toBe(2);
    const o = parseOptions(["--soak-minutes", "5", "--only", "soak"], {}, "/b");
    expect(o.soakMinutes).toBe(5);
    expect(o.skip).not.toContain("soak");
    // A long part: not in a plain `pnpm bench`.
    expect(parseOptions([], {}, "/b").skip).toContain("soak");
  });
});
