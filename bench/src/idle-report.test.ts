import { describe, expect, it } from "vitest";
import {
  ACTIVE_TARGET_BYTES,
  IDLE_TARGET_BYTES,
  idleLines,
  idleRatios,
  renderIdleChart,
} from "./idle-report.js";
import type { ActiveResult, IdleResult } from "./idle-run.js";
import { idleSourceAddress, memoryResult } from "./idle-run.js";
import { parseOptions } from "./options.js";

const idle = (herald: number, ws: number, sio: number | undefined): IdleResult => ({
  connections: 10_000,
  herald: memoryResult(10_000, 100_000_000, 100_000_000 + herald * 10_000),
  ws: memoryResult(10_000, 50_000_000, 50_000_000 + ws * 10_000),
  socketio: sio === undefined ? { skipped: "failed: no Redis" } : memoryResult(10_000, 1, 1 + sio * 10_000),
  loadAverage: [1.5, 2],
});

describe("the idle memory part", () => {
  it("takes RSS growth per connection", () => {
    expect(memoryResult(4, 1_000, 9_000)).toEqual({
      connections: 4,
      rssBeforeBytes: 1_000,
      rssAfterBytes: 9_000,
      perConnectionBytes: 2_000,
    });
  });

  it("spreads clients over source addresses from 127.0.0.2", () => {
    expect([0, 1, 9, 10].map(idleSourceAddress)).toEqual([
      "127.0.0.2",
      "127.0.0.3",
      "127.0.0.11",
      "127.0.0.2",
    ]);
  });

  it("compares Herald with raw ws and Socket.IO, against the target", () => {
    expect(idleRatios(idle(12_000, 6_000, 24_000))).toMatchObject({
      heraldVsRawWs: 2,
      heraldVsSocketIo: 0.5,
      withinTarget: false,
      activeWithinTarget: null,
    });
    expect(idleRatios(idle(IDLE_TARGET_BYTES, 6_000, undefined))).toMatchObject({
      heraldVsRawWs: 1,
      heraldVsSocketIo: null,
      withinTarget: true,
    });
  });

  it("reports the active phase beside the idle figures, against its own target", () => {
    const result = idle(12_000, 6_000, 24_000);
    const withActive = (part: IdleResult["herald"], bytes: number, extra: Partial<ActiveResult> = {}) =>
      "skipped" in part
        ? part
        : {
            ...part,
            active: {
              offeredMsgsPerSec: 10_000,
              seconds: 30,
              messages: 300_000,
              rssBytes: 0,
              peakRssBytes: 0,
              perConnectionBytes: bytes,
              peakPerConnectionBytes: bytes + 1_000,
              ...extra,
            },
          };
    result.herald = withActive(result.herald, 9_000, {
      receipted: 300_000,
      lost: 0,
      achievedMsgsPerSec: 9_500,
      connectorCpuMicrosPerMessage: 40,
    });
    result.ws = withActive(result.ws, 7_500);
    result.socketio = { ...withActive(result.socketio, 18_000) };
    expect(idleRatios(result)).toMatchObject({
      activeHeraldVsRawWs: 1.2,
      activeHeraldVsSocketIo: 0.5,
      activeWithinTarget: 9_000 <= ACTIVE_TARGET_BYTES,
    });
    const lines = idleLines(result).join("\n");
    expect(lines).toContain(
      "Herald connector (authenticated) 9000 B (peak 10000 B, 9500 msg/s achieved, 300000/300000 receipted, lost 0, connector 40 µs CPU/msg)",
    );
    expect(lines).toContain("raw ws 7500 B (peak 8500 B)");
    const svg = renderIdleChart(result, "t");
    expect(svg).toContain("receiving 1 msg/s");
    expect(svg).toContain("9k B");
    expect(svg).not.toMatch(/NaN|undefined/);
  });

  it("reports the settled reading against the target, and the one just after connecting", () => {
    const result = idle(5_900, 7_400, 17_000);
    if ("skipped" in result.herald) throw new Error("unexpected");
    result.herald = {
      ...result.herald,
      justConnected: { afterMs: 3_000, rssAfterBytes: 0, perConnectionBytes: 7_600 },
      settledAfterMs: 60_000,
    };
    expect(idleRatios(result).withinTarget).toBe(true);
    const lines = idleLines(result).join("\n");
    expect(lines).toContain(
      "at 10000 connections, 60 s after the last connected: Herald connector (authenticated) 5900 B",
    );
    expect(lines).toContain(
      "3 s after the last connected: Herald connector (authenticated) 7600 B, raw ws -",
    );
    const svg = renderIdleChart(result, "t");
    expect(svg).toContain("3 s after connecting");
    expect(svg).toContain("7.6k B");
    expect(svg).not.toMatch(/NaN|undefined/);
  });

  it("reports each system, or why it was skipped", () => {
    const lines = idleLines(idle(12_000, 6_000, undefined)).join("\n");
    expect(lines).toContain("Herald connector (authenticated) 12000 B, raw ws 6000 B");
    expect(lines).toContain("Socket.IO (Redis Streams adapter) skipped (failed: no Redis)");
    expect(lines).toContain("MISSED");
    expect(idleLines(undefined)).toEqual([]);
  });

  it("draws a bar per measured system and the target", () => {
    const svg = renderIdleChart(idle(12_000, 6_000, 24_000), "2026-12-06T00:00:00Z");
    expect(svg).toContain("12k B");
    expect(svg).toContain("24k B");
    expect(svg).toContain("idle ≤ 6k B");
    expect(svg).toContain("active ≤ 10k B");
    expect(svg).not.toMatch(/NaN|undefined/);
    expect(renderIdleChart(idle(12_000, 6_000, undefined), "t")).not.toContain("Socket.IO (Redis");
  });

  it("has 10,000 idle connections by default, fewer with --quick, and can be skipped", () => {
    expect(parseOptions([], {}, "/b").idleConnections).toBe(10_000);
    expect(parseOptions(["--quick"], {}, "/b").idleConnections).toBe(2_000);
    expect(parseOptions(["--idle-connections", "500"], {}, "/b").idleConnections).toBe(500);
    expect(parseOptions(["--skip", "idle"], {}, "/b").skip).toContain("idle");
  });
});
