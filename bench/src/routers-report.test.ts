import { describe, expect, it } from "vitest";
import { renderRoutersChart, routersLines, routersScaling } from "./routers-report.js";
import type { RoutersResult } from "./routers-run.js";
import { sendUsersBody, USERS_PER_MESSAGE } from "./routers-run.js";

const round = (replicas: number, writesPerSec: number, cpu: number, seconds: number[]) => ({
  replicas,
  writes: 30_000,
  seconds: 30_000 / writesPerSec,
  writesPerSec,
  routerCpuMicrosPerWrite: cpu,
  natsCpuMicrosPerWrite: 20,
  pacedWritesPerSec: 15_000,
  pacedRouterCpuMicrosPerWrite: cpu,
  routerCpuSeconds: seconds,
  lanesPerReplica: seconds.map(() => 1),
  otherProcessesCpuSeconds: 0,
  leaseHandovers: 0,
});

const result: RoutersResult = {
  messages: 3_000,
  usersPerMessage: 10,
  rounds: [
    round(1, 10_000, 40, [1.2]),
    round(2, 20_000, 44, [0.66, 0.66]),
    round(3, 9_000, 40, [1.1, 0.05, 0.05]),
  ],
  loadAverage: [1, 2],
};

describe("routers report", () => {
  it("relates each round to one replica and says how the CPU was shared", () => {
    expect(routersScaling(result)).toEqual([
      { replicas: 1, throughputVsOne: 1, cpuPerWriteVsOne: 1, busiestShare: 1 },
      { replicas: 2, throughputVsOne: 2, cpuPerWriteVsOne: 1.1, busiestShare: 0.5 },
      { replicas: 3, throughputVsOne: 0.9, cpuPerWriteVsOne: 1, busiestShare: 0.92 },
    ]);
    expect(routersLines(result)[1]).toContain("Routers ×2: 20000 mailbox writes/s (×2)");
    expect(routersLines(undefined)).toEqual([]);
  });

  it("charts every round", () => {
    const svg = renderRoutersChart(result, "2026-12-06T00:00:00Z");
    expect(svg).toContain("3 replicas");
    expect(svg.match(/<rect /g)?.length).toBeGreaterThanOrEqual(6);
  });

  it("spreads each message over distinct users", () => {
    const body = JSON.parse(new TextDecoder().decode(sendUsersBody(99, 1_000, "m"))) as { userIds: string[] };
    expect(new Set(body.userIds).size).toBe(USERS_PER_MESSAGE);
    expect(body.userIds[0]).toBe("u990");
  });
});
