import { describe, expect, it } from "vitest";
import {
  type PresenceBenchResults,
  PresenceOptionsError,
  parsePresenceOptions,
  presenceSummary,
  presenceVerdicts,
  renderPresenceChart,
} from "./presence-report.js";

const latency = (p50: number, p99: number) => ({ count: 100, p50, p90: p50, p99, max: p99, mean: p50 });

function results(queryP99: number, lagP99: number, bytes: number): PresenceBenchResults {
  return {
    connections: 100_000,
    users: 66_667,
    connectors: 4,
    fillSeconds: 3,
    memory: {
      heapEmptyBytes: 1,
      heapFullBytes: 2,
      heapBytesPerConnection: bytes,
      rssEmptyBytes: 1,
      rssFullBytes: 2,
      rssBytesPerConnection: bytes * 2,
    },
    query: { ...latency(0.4, queryP99), failed: 0, offeredPerSecond: 500 },
    eventLag: {
      ...latency(1, lagP99),
      missing: 0,
      untilPresenceApplied: latency(1, 2),
      opens: 10,
      closes: 10,
      achievedPerSecond: 1000,
    },
    trackedAfterChurn: 100_500,
    cpuSeconds: { presence: 1 },
    presenceMetrics: {
      eventLoopLagP99Ms: 12,
      eventLoopLagMaxMs: 20,
      reports: {},
      gaps: 0,
      heartbeatPartsUnchanged: 5,
    },
    wire: {
      heartbeatMs: 3000,
      beatsPerPhase: 2,
      phases: [
        {
          connections: 10_000,
          mode: "beats",
          changesPerBeat: 0,
          achievedChangesPerBeat: 0,
          bytesPerBeat: 520,
          messagesPerBeat: 4,
          beatsCounted: 8,
        },
        {
          connections: 10_000,
          mode: "full heartbeats",
          changesPerBeat: 0,
          achievedChangesPerBeat: 0,
          bytesPerBeat: 1_300_000,
          messagesPerBeat: 12,
          beatsCounted: 8,
        },
      ],
      exact: [{ connections: 10_000, expected: 10_001, tracked: 10_001 }],
      beatMismatches: 0,
      gaps: 0,
    },
  };
}

describe("presence bench report", () => {
  it("parses flags, defaulting to the issue's benchmark", () => {
    expect(parsePresenceOptions([], "/b")).toMatchObject({
      connections: 100_000,
      connectors: 4,
      churnRate: 1_000,
      outDir: "/b/results",
    });
    expect(parsePresenceOptions(["--connections", "2000", "--out", "/tmp/x"], "/b")).toMatchObject({
      connections: 2000,
      outDir: "/tmp/x",
    });
    expect(() => parsePresenceOptions(["--nope", "1"], "/b")).toThrow(PresenceOptionsError);
    expect(() => parsePresenceOptions(["--connections", "-3"], "/b")).toThrow(PresenceOptionsError);
    expect(() => parsePresenceOptions(["--connections"], "/b")).toThrow(PresenceOptionsError);
  });

  it("judges each figure against its target", () => {
    expect(presenceVerdicts(results(5, 100, 500))).toEqual({
      queryP99: true,
      eventLagP99: true,
      bytesPerConnection: true,
    });
    expect(presenceVerdicts(results(5.1, 100.1, 501))).toEqual({
      queryP99: false,
      eventLagP99: false,
      bytesPerConnection: false,
    });
    expect(presenceSummary(results(9, 50, 300))).toContain("target p99 <= 5 ms: MISSED");
  });

  it("draws a bar per figure, red past its target, with escaped text", () => {
    const svg = renderPresenceChart(results(9, 50, 200), "a <subtitle>");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("a &lt;subtitle&gt;");
    expect(svg.match(/fill="#c0504d"/g)).toHaveLength(1);
    expect(svg.match(/stroke-dasharray/g)).toHaveLength(3);
    expect(svg).toContain("log scale");
    expect(svg.match(/fill="#ed7d31"/g)).toHaveLength(1);
  });

  it("reports bytes per beat next to what full heartbeats cost, and presence's exactness", () => {
    const summary = presenceSummary(results(1, 1, 1));
    expect(summary).toContain("10k connections, 0 changes: 520 B (full heartbeats: 1.3 MB)");
    expect(summary).toContain("tracked/expected after the phases 10001/10001; 0 beat mismatches, 0 gaps");
  });
});
