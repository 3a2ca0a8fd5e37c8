import { describe, expect, it } from "vitest";
import { chartInput } from "./chart.js";
import type { HeraldResult } from "./herald-run.js";
import type { LadderResult, LadderStep } from "./ladder.js";
import { type BenchResults, derive, type NatsResults, summaryTable } from "./report.js";
import type { BaselineResult } from "./results.js";
import { renderChart } from "./svg.js";

const rate = (msgsPerSec: number) => ({ messages: 1, elapsedMs: 1, msgsPerSec });
const nats: NatsResults = {
  jetStreamPublish: rate(30_000),
  jetStreamPublishNoDedup: rate(48_000),
  core: rate(600_000),
};
const latency = (p99: number, delivered = 50_000, offeredRate = 5_000) => ({
  offeredRate,
  durationMs: 10_000,
  messages: 50_000,
  delivered,
  duplicates: 0,
  achievedMsgsPerSec: 5_000,
  latencyMs: { count: delivered, p50: p99 / 4, p90: p99 / 2, p99, max: p99 * 2, mean: p99 / 3 },
});
const memory = { connections: 1_000, rssBeforeBytes: 1, rssAfterBytes: 1, perConnectionBytes: 4_000 };
const throughput = (msgsPerSec: number) => ({
  messages: 50_000,
  delivered: 50_000,
  duplicates: 0,
  complete: true,
  publishMs: 1,
  elapsedMs: 1,
  msgsPerSec,
  cpuSeconds: {},
});
const heraldThroughput = (msgsPerSec: number, writesPerMessage = 4) => ({
  ...throughput(msgsPerSec),
  receipts: 50_000,
  durableWrites: { intake: 1, mailbox: 1, acks: 1, cursors: 1, perMessage: writesPerMessage },
  cpuMicrosPerMessage: {
    "nats-server": 150,
    connector: 100,
    router: 50,
    persistence: 100,
    clients0: 30,
    total: 430,
  },
});
const heraldLatency = (p99: number, offeredRate = 5_000, delivered = 50_000) => ({
  ...latency(p99, delivered, offeredRate),
  receipts: delivered,
  publishErrors: 0,
  cpuMicrosPerMessage: { "nats-server": 60, total: 250 },
  machineBusyCores: 1.3,
  stages: {
    publishToStoredMs: { count: delivered, p50: 0.4, p90: 1, p99: p99 / 3, max: p99, mean: 0.5 },
    storedToReceivedMs: { count: delivered, p50: 1.1, p90: 3, p99: (p99 * 2) / 3, max: p99, mean: 1.5 },
  },
  hops: {
    intakeToRouter: { messages: delivered, p50AtMostMs: 1, p99AtMostMs: 5, within20Ms: 0.9995 },
    intakeToConnector: { messages: delivered, p50AtMostMs: 2.5, p99AtMostMs: null, within20Ms: 0.97 },
  },
});
const herald = (msgsPerSec: number, p99: number, writesPerMessage = 4): HeraldResult => ({
  memory,
  throughput: { ...heraldThroughput(msgsPerSec, writesPerMessage), inflight: 2_000 },
  burst: heraldThroughput(msgsPerSec / 2),
  latency: heraldLatency(p99),
  latencyByRate: [],
  serviceMetrics: {},
  loadAverage: [0.5, 0.7],
});
const ws: BaselineResult = {
  memory,
  throughput: throughput(150_000),
  latency: latency(0.8),
  loadAverage: [1, 1],
};

describe("derive", () => {
  it("takes the ceiling as raw JetStream over 3 writes and judges both targets", () => {
    const good = derive({ nats, herald: herald(6_000, 12), ws, socketio: { skipped: "--skip" } });
    expect(good.ceiling.heraldCeilingMsgsPerSec).toBe(10_000);
    expect(good.ratios.heraldVsCeiling).toBe(0.6);
    expect(good.ratios.heraldVsSocketIo).toBeNull();
    expect(good.targets.throughput).toEqual({ targetMsgsPerSec: 5_000, actualMsgsPerSec: 6_000, met: true });
    expect(good.targets.p99.met).toBe(true);
    // 2 cores ÷ 400 µs of Herald's own processes (the load generator does not count).
    expect(good.ceiling.heraldCpuBoundMsgsPerSec).toBe(5_000);
    expect(good.ratios.heraldCpuBoundVsCeiling).toBe(0.5);

    // The burst and the ceiling at the writes actually counted are reported beside it, not judged.
    expect(good.ratios.heraldBurstVsCeiling).toBe(0.3);
    const batched = derive({ nats, herald: herald(6_000, 12, 2.5), ws, socketio: { skipped: "--skip" } });
    expect(batched.ratios.heraldVsCeilingAtMeasuredWrites).toBe(0.5);

    expect(good.ratios.heraldVsPipelinedCeiling).toBeNull();
    const pipelined = { ...nats, jetStreamPublishPipelined: rate(60_000) };
    const faster = derive({
      nats: pipelined,
      herald: herald(6_000, 12),
      ws,
      socketio: { skipped: "--skip" },
    });
    expect(faster.ratios.heraldVsPipelinedCeiling).toBe(0.3);

    const bad = derive({ nats, herald: herald(4_000, 25), ws, socketio: { skipped: "--skip" } });
    expect(bad.targets.throughput.met).toBe(false);
    expect(bad.targets.p99.met).toBe(false);
  });

  it("names the highest swept rate whose p99 met the target, counting only complete runs", () => {
    const swept = (byRate: HeraldResult["latencyByRate"], p99 = 35) => ({
      ...herald(6_000, p99),
      latencyByRate: byRate,
    });
    const parts = (h: HeraldResult) => ({ nats, herald: h, ws, socketio: { skipped: "--skip" } });
    const within = derive(
      parts(swept([heraldLatency(8, 2_000), heraldLatency(15, 3_000), heraldLatency(26, 4_000)])),
    );
    expect(within.targets.p99.met).toBe(false);
    expect(within.targets.p99.highestRateWithinTarget).toBe(3_000);
    const lossy = derive(parts(swept([heraldLatency(8, 2_000), heraldLatency(15, 3_000, 49_000)])));
    expect(lossy.targets.p99.highestRateWithinTarget).toBe(2_000);
    expect(derive(parts(swept([], 12))).targets.p99.highestRateWithinTarget).toBe(5_000);
    expect(derive(parts(swept([heraldLatency(30, 2_000)]))).targets.p99.highestRateWithinTarget).toBeNull();
  });

  it("has no verdict without the measurements", () => {
    const none = derive({
      nats: { skipped: "x" },
      herald: { skipped: "x" },
      ws: { skipped: "x" },
      socketio: { skipped: "x" },
    });
    expect(none.targets.throughput.met).toBeNull();
    expect(none.targets.p99.met).toBeNull();
    expect(none.ceiling.heraldCeilingMsgsPerSec).toBeNull();
  });
});

describe("summary and chart", () => {
  const parts = { nats, herald: herald(6_000, 12), ws, socketio: { skipped: "failed: no redis" } };
  const results: BenchResults = {
    version: 1,
    startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt: "2026-01-01T00:01:00.000Z",
    durationSec: 60,
    command: "pnpm bench",
    machine: { cpus: 2 },
    options: { users: 1_000, rate: 5_000 },
    ...parts,
    ...derive(parts),
    notes: [],
  };

  it("prints every system, the skipped one with its reason, and the verdicts", () => {
    const table = summaryTable(results);
    expect(table).toContain("Herald (durable, acked)");
    expect(table).toContain("skipped: failed: no redis");
    expect(table).toContain("Herald / ceiling: 0.600");
    expect(table).toContain("MET");
    expect(table).toContain(
      "Herald p99 by offered rate: 5000 → 12.0 ms (1.30 cores busy); within 20 ms up to 5000 msg/s",
    );
    expect(table).toContain(
      "Herald latency at 5000 msg/s, split where the intake stream stored each message (±1 ms): " +
        "publish → stored p50 0.4 / p99 4.0 ms; stored → received p50 1.1 / p99 8.0 ms",
    );
  });

  it("reports tracing off against on for each way in: rounds, ratios against the budget, chart bars", () => {
    const round = (tracing: "off" | "on", msgsPerSec: number, total: number) => ({
      tracing,
      messages: 10_000,
      receipts: 10_000,
      msgsPerSec,
      cpuMicrosPerMessage: { connector: 0, router: 0, persistence: 0, total },
      exports: { requests: tracing === "on" ? 12 : 0, bytes: 0 },
      loadAverage: 1.5,
    });
    const path = (p: "user" | "users", on: number, ratio: number) => ({
      path: p,
      rounds: [round("off", 1_000, 200), round("on", on, 220)],
      throughputRatio: ratio,
      cpuRatio: 1.1,
      loopCpuRatio: 1.05,
      setup: "",
    });
    const tracing = { paths: [path("user", 950, 0.95), path("users", 800, 0.8)] };
    const withTracing = { ...results, tracing };
    expect(summaryTable(withTracing)).toContain(
      "Tracing on / off (user): throughput 0.950 (budget ≥ 0.9), service CPU per message 1.100, whole loop's CPU per message 1.050",
    );
    expect(summaryTable(withTracing)).toContain("Tracing on / off (users): throughput 0.800");
    expect(summaryTable(withTracing)).toContain("off 1000 msg/s, 200 µs (load 1.5); on 950 msg/s, 220 µs");
    const bars = chartInput(withTracing).throughput.filter((b) => b.label.includes("tracing"));
    expect(bars.map((b) => b.value)).toEqual([1_000, 950, 1_000, 800]);
    expect(bars[1]?.note).toContain("within the 10% budget");
    expect(bars[3]?.note).toContain("over the 10% budget");
    expect(summaryTable(results)).not.toContain("Tracing");
  });

  it("leaves the latency split and the hops out for results recorded before they existed", () => {
    const { stages: _dropped, hops: _alsoDropped, ...old } = heraldLatency(12);
    const before = { ...results, herald: { ...herald(6_000, 12), latency: old } };
    expect(summaryTable(before)).not.toContain("split where");
    expect(summaryTable(before)).not.toContain("Herald hops");
  });

  it("names each hop's lag after the intake store, with '-' past the last bucket", () => {
    expect(summaryTable(results)).toContain(
      "Herald hops at 5000 msg/s, after the intake store (the services' lag histograms, bucket edges): " +
        "→ router p50 ≤ 1.0 / p99 ≤ 5.0 ms (100.0% within 20 ms); → connector p50 ≤ 2.5 / p99 ≤ - ms (97.0% within 20 ms)",
    );
  });

  it("charts the measured systems only", () => {
    const input = chartInput(results);
    expect(input.throughput.map((b) => b.label)).toEqual([
      "Herald end to end (acked)",
      "Herald, burst (all at once)",
      "ceiling: JetStream ÷ 3 writes",
      "raw JetStream publish",
      "core NATS pub→sub",
      "raw ws (no broker, no acks)",
    ]);
    expect(input.latency.map((g) => g.label)).toEqual(["Herald", "raw ws"]);
    expect(input.notes).toContain("p99 by offered rate: 5000 → 12 ms (within 20 ms up to 5000 msg/s).");
    expect(renderChart(input)).not.toMatch(/NaN|undefined/);
  });
});

/** A ladder whose steps at `rates` passed (p99 from `p99s`) and whose next rate failed twice. */
function ladderOf(passing: [number, number][], failed?: number): LadderResult {
  const step = (offeredRate: number, p99: number, pass: boolean, attempt = 1): LadderStep => ({
    offeredRate,
    durationMs: 5_000,
    messages: offeredRate * 5,
    delivered: pass ? offeredRate * 5 : offeredRate * 5 - 10,
    duplicates: 0,
    publishErrors: 0,
    drainMs: pass ? 5 : 900,
    latencyMs: { count: 1, p50: p99 / 4, p90: p99 / 2, p99, max: p99, mean: p99 / 3 },
    cpuMicrosPerMessage: { server0: p99 * 10, system: p99 * 10 },
    attempt,
    pass,
    ...(pass ? {} : { reason: "lost 10" }),
  });
  const steps = passing.map(([rate, p99]) => step(rate, p99, true));
  if (failed !== undefined) steps.push(step(failed, 300, false), step(failed, 250, false, 2));
  return {
    rates: [...passing.map(([rate]) => rate), ...(failed === undefined ? [] : [failed])],
    stepMs: 5_000,
    drainBoundMs: 500,
    steps,
    highestPassingRate: passing.at(-1)?.[0] ?? null,
    failedRate: failed ?? null,
  };
}

describe("the offered-load ladder in the report", () => {
  const heraldWith = (ladder: LadderResult) => ({ ...herald(6_000, 12), ladder });
  const sio = (emitter: LadderResult, server0: LadderResult): BaselineResult => ({
    ...ws,
    ladder: emitter,
    ladderAlternatives: { "server 0 emits": server0 },
  });
  const wsLadder = {
    ...ws,
    ladder: ladderOf(
      [
        [5_000, 0.5],
        [10_000, 0.6],
        [40_000, 2],
      ],
      60_000,
    ),
  };

  it("compares the highest lossless rates, taking Socket.IO's faster sender, and judges the targets", () => {
    const d = derive({
      nats,
      herald: heraldWith(
        ladderOf(
          [
            [5_000, 4],
            [10_000, 12],
          ],
          15_000,
        ),
      ),
      ws: wsLadder,
      socketio: sio(
        ladderOf(
          [
            [5_000, 1],
            [10_000, 2],
            [20_000, 3],
          ],
          30_000,
        ),
        ladderOf([[5_000, 2]], 10_000),
      ),
    });
    expect(d.ratios.heraldVsSocketIoLossless).toBe(0.5);
    expect(d.ratios.heraldVsRawWsLossless).toBe(0.25);
    expect(d.ratios.socketIoEmitterVsServerEmitsLossless).toBe(4);
    expect(d.ratios.heraldP99VsSocketIoP99At5000).toBe(4);
    expect(d.ratios.heraldP99VsRawWsP99At10000).toBe(20);
    // CPU per message of the step at the rate (10 × p99 in these fixtures), passing or not.
    expect(d.ratios.heraldCpuVsSocketIoCpuAt10000).toBe(6);
    expect(d.targets.ladder?.lossless).toEqual({
      targetMsgsPerSec: 20_000,
      aimMsgsPerSec: 30_000,
      actualMsgsPerSec: 10_000,
      met: false,
    });
    expect(d.targets.ladder?.p99).toEqual([
      { offeredRate: 5_000, targetMs: 5, actualMs: 4, met: true },
      { offeredRate: 10_000, targetMs: 10, actualMs: 12, met: false },
    ]);
  });

  it("takes Socket.IO's server-side sender when it went higher, and fails a p99 target at a failed step", () => {
    const d = derive({
      nats,
      herald: heraldWith(ladderOf([[5_000, 3]], 10_000)),
      ws,
      socketio: sio(
        ladderOf([[5_000, 1]], 10_000),
        ladderOf([
          [5_000, 2],
          [10_000, 2.5],
        ]),
      ),
    });
    expect(d.targets.ladder?.lossless).toMatchObject({ targetMsgsPerSec: 10_000, actualMsgsPerSec: 5_000 });
    expect(d.ratios.heraldP99VsSocketIoP99At5000).toBe(1.5);
    // Herald lost messages at 10,000: the target is missed whatever the p99 of that step.
    expect(d.targets.ladder?.p99[1]).toEqual({
      offeredRate: 10_000,
      targetMs: 10,
      actualMs: null,
      met: false,
    });
    expect(d.ratios.heraldVsRawWsLossless).toBeNull();
  });

  it("counts a Herald ladder whose first rate failed as 0 msg/s, and has no verdict without ladders", () => {
    const d = derive({
      nats,
      herald: heraldWith(ladderOf([], 2_500)),
      ws,
      socketio: sio(ladderOf([[2_500, 1]]), ladderOf([], 2_500)),
    });
    expect(d.targets.ladder?.lossless).toMatchObject({ actualMsgsPerSec: 0, met: false });
    // Its climb ended below 5,000 and 10,000 (rates it was to climb to): both p99 targets are missed.
    const ended = derive({
      nats,
      herald: heraldWith({ ...ladderOf([], 2_500), rates: [2_500, 5_000, 10_000] }),
      ws,
      socketio: { skipped: "x" },
    });
    expect(ended.targets.ladder?.p99.map((p) => p.met)).toEqual([false, false]);
    const none = derive({ nats, herald: herald(6_000, 12), ws, socketio: { skipped: "x" } });
    expect(none.targets.ladder?.lossless.met).toBeNull();
    expect(none.targets.ladder?.p99.map((p) => p.met)).toEqual([null, null]);
  });

  it("prints each ladder and charts the highest lossless rates and the ladder latencies", () => {
    const parts = {
      nats,
      herald: heraldWith(
        ladderOf(
          [
            [5_000, 4],
            [10_000, 8],
          ],
          15_000,
        ),
      ),
      ws: wsLadder,
      socketio: sio(
        ladderOf(
          [
            [5_000, 1],
            [10_000, 2],
          ],
          20_000,
        ),
        ladderOf([[5_000, 2]], 10_000),
      ),
    };
    const results: BenchResults = {
      version: 1,
      startedAt: "2026-01-01T00:00:00.000Z",
      finishedAt: "2026-01-01T00:01:00.000Z",
      durationSec: 60,
      command: "pnpm bench",
      machine: { cpus: 2 },
      options: { users: 1_000, rate: 5_000 },
      ...parts,
      ...derive(parts),
      notes: [],
    };
    const table = summaryTable(results);
    expect(table).toContain("Herald (delivered and acked): highest lossless 10000 msg/s");
    expect(table).toContain("15000 FAIL 75.0/300.0, 15000(2) FAIL 62.5/250.0");
    expect(table).toContain("Highest lossless rate: Herald / Socket.IO 1.000 (target ≥ 1: MET)");
    expect(table).toContain("Herald p99 at 10000 msg/s on the ladder: 8.00 ms (target ≤ 10 ms: MET)");
    expect(table).toContain(
      "at 5000 msg/s: Herald 40, Socket.IO 10, raw ws 5; Herald ÷ Socket.IO 4.00, ÷ raw ws 8.00",
    );
    const input = chartInput(results);
    expect(
      input.throughput.filter((b) => b.label.includes("lossless")).map((b) => [b.label, b.value]),
    ).toEqual([
      ["Herald, highest lossless (acked)", 10_000],
      ["Socket.IO, lossless (emitter)", 10_000],
      ["Socket.IO, lossless (server 0 emits)", 5_000],
      ["raw ws, highest lossless", 40_000],
    ]);
    expect(input.latency.map((g) => g.label)).toContain("Socket.IO @ 10k (ladder)");
    expect(input.notes?.some((n) => n.startsWith("Highest lossless rate: Herald / Socket.IO 1.000"))).toBe(
      true,
    );
    expect(input.notes).toContain(
      "Ladder Herald, p50/p99 ms: 5k 1.0/4.0 ✓, 10k 2.0/8.0 ✓, 15k 75.0/300.0 ✗, 15k(2) 62.5/250.0 ✗",
    );
    expect(renderChart(input)).not.toMatch(/NaN|undefined/);
  });
});
