import { describe, expect, it } from "vitest";
import {
  FanoutOptionsError,
  fanoutSummary,
  fanoutVerdict,
  parseFanoutOptions,
  renderFanoutChart,
} from "./fanout-report.js";
import type { FanoutPart, SaturationRound } from "./fanout-run.js";

describe("parseFanoutOptions", () => {
  it("defaults to 10,000 clients in 4 processes, with the profile round", () => {
    const o = parseFanoutOptions([], "/b");
    expect(o).toMatchObject({
      clients: 10_000,
      clientProcs: 4,
      messages: 50,
      profile: true,
      outDir: "/b/results",
    });
  });

  it("takes flags and refuses unknown or bad ones", () => {
    const o = parseFanoutOptions(["--clients", "2000", "--source-addresses", "5", "--no-profile"], "/b");
    expect(o).toMatchObject({ clients: 2000, sourceAddresses: 5, profile: false });
    expect(() => parseFanoutOptions(["--bogus", "1"], "/b")).toThrow(FanoutOptionsError);
    expect(() => parseFanoutOptions(["--rate", "-1"], "/b")).toThrow(FanoutOptionsError);
    expect(() => parseFanoutOptions(["--rate"], "/b")).toThrow(FanoutOptionsError);
  });
});

const round = (deliveriesPerSec: number, cpu: number): SaturationRound => ({
  messages: 50,
  expected: 500_000,
  deliveries: 500_000,
  duplicates: 0,
  skipped: 0,
  complete: true,
  sendMs: 1,
  elapsedMs: 7_000,
  deliveriesPerSec,
  cpuSeconds: { server: 4 },
  serverCpuMicrosPerDelivery: cpu,
  serverUserMicrosPerDelivery: cpu / 2,
  serverSystemMicrosPerDelivery: cpu / 2,
  serverPeakRssBytes: 3e8,
  machineSeconds: { softirq: 1, steal: 0 },
});

const part = (rates: number[], cpu: number): FanoutPart => {
  const rounds = rates.map((rate) => round(rate, cpu));
  return {
    clients: 10_000,
    connectSeconds: 3,
    memory: { rssIdleBytes: 1e8, rssConnectedBytes: 3e8, perConnectionBytes: 20_000 },
    quiet: { waitedMs: 1_000, busyCores: 0.1, quiet: true },
    rounds,
    best: rounds.reduce((a, b) => (b.deliveriesPerSec > a.deliveriesPerSec ? b : a)),
    medianDeliveriesPerSec: [...rates].sort((a, b) => a - b)[1] ?? 0,
    serverCpuMicrosPerDelivery: { total: cpu, user: cpu / 2, system: cpu / 2 },
    latency: {
      offeredMsgsPerSec: 2,
      durationMs: 10_000,
      messages: 20,
      expected: 200_000,
      deliveries: 200_000,
      complete: true,
      latencyMs: { count: 200_000, p50: 80, p90: 150, p99: 200, max: 300, mean: 90 },
    },
    loadAverage: [1, 1],
  };
};

describe("fanoutVerdict and the chart", () => {
  it("compares the best rounds against 0.7 and CPU per delivery", () => {
    const results = { herald: part([60_000, 66_000, 50_000], 10), raw: part([70_000, 80_000, 75_000], 8) };
    const v = fanoutVerdict(results);
    expect(v).toMatchObject({ bestRatio: 0.825, medianRatio: 0.8, cpuEfficiencyRatio: 0.8, met: true });
    expect(v.pairedRatios).toEqual([0.857, 0.825, 0.667]);
    expect(v.pairedMedianRatio).toBe(0.825);
    expect(fanoutVerdict({ herald: part([50_000], 10), raw: part([80_000], 8) }).met).toBe(false);
    expect(fanoutVerdict({ herald: { skipped: "no nats" }, raw: part([80_000], 8) }).met).toBeNull();
    const options = parseFanoutOptions([], "/b");
    const svg = renderFanoutChart(results, options, "test");
    expect(svg).toContain("Deliveries per second");
    expect(svg).toContain("0.825× raw (median of paired rounds)");
    expect(fanoutSummary(results)).toContain("target ≥ 0.7: met");
  });
});
