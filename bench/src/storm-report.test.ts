import { describe, expect, it } from "vitest";
import { renderStormChart, stormLines } from "./storm-report.js";
import type { StormResult } from "./storm-run.js";

const summary = (p50: number, p99: number, max: number) => ({
  count: 10,
  p50,
  p90: p99,
  p99,
  max,
  mean: p50,
});

function storm(allReconnectedMs: number, allCaughtUpMs: number | null, raw?: number): StormResult {
  const analysis = {
    reconnected: 10,
    allReconnectedMs,
    reconnectMs: summary(allReconnectedMs / 2, allReconnectedMs, allReconnectedMs),
    allCaughtUpMs,
    caughtUpMs: summary(1_000, 2_000, 2_000),
    lost: 0,
    delivered: 100,
    noticedMs: summary(100, 900, 900),
    attempts: { mean: 1.1, max: 3 },
  };
  return {
    clients: 10,
    connectors: 4,
    clientProcesses: 1,
    rate: 200,
    initialConnectSeconds: 1,
    analysis,
    messages: { published: 100, acked: 100, publishErrors: 0, duplicatesSeenByApp: 0 },
    refusals: {},
    replay: { pages: 10, errors: 0 },
    endings: {},
    presence: { users: 10, connections: 10, exact: true, secondsAfterKill: 3 },
    limits: { connectorEnv: {}, sdk: "defaults" },
    loadAverage: [1, 2],
    ...(raw === undefined
      ? {}
      : {
          rawWs: {
            clients: 10,
            servers: 4,
            initialConnectSeconds: 1,
            allReconnectedMs: raw,
            reconnectMs: summary(raw / 2, raw, raw),
            noticedMs: summary(10, 20, 20),
            attempts: { mean: 1, max: 1 },
            loadAverage: [1, 1],
          },
        }),
  } as StormResult;
}

describe("the storm part's report", () => {
  it("sets Herald's storm against the raw ws baseline of the same run", () => {
    const lines = stormLines(storm(12_000, 13_000, 4_000)).join("\n");
    expect(lines).toContain("all caught up 13.00 s (goal ≤ 10 s: MISSED)");
    expect(lines).toContain("Storm, raw ws in the same run");
    expect(lines).toContain("all reconnected 4.00 s");
    expect(lines).toContain("(Herald ÷ raw ws 3.00)");
    const svg = renderStormChart(storm(12_000, 13_000, 4_000), "2026-12-06T08:00:00Z");
    expect(svg).toContain("raw ws: all reconnected");
  });

  it("lists each kind of process's CPU over the storm, busiest first, and per client", () => {
    const result = {
      ...storm(12_000, 13_000, 4_000),
      cpu: {
        windowSeconds: 13,
        seconds: { persistence: 2, connector: 6 },
        msPerClient: { persistence: 200, connector: 600 },
        busyCores: 0.62,
      },
    };
    const lines = stormLines(result);
    expect(lines).toContain(
      "Storm CPU from the kill until all were back (13.00 s, 0.62 cores busy): connector 6.00 s (600.00 ms per client), persistence 2.00 s (200.00 ms per client)",
    );
    expect(lines.join("\n")).not.toContain("Storm CPU, raw ws");
  });

  it("leaves the baseline out of results recorded before it existed", () => {
    const lines = stormLines(storm(8_000, 9_000)).join("\n");
    expect(lines).toContain("(goal ≤ 10 s: MET)");
    expect(lines).not.toContain("raw ws");
  });
});
