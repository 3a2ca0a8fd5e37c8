import { describe, expect, it } from "vitest";
import { chartInput } from "./chart.js";
import {
  type CompressionRound,
  compressionDocument,
  compressionLines,
  onOffRatio,
  type PayloadSize,
  renderCompressionChart,
  type Setting,
  summarizeCompression,
  withoutPaths,
} from "./compression-report.js";
import { type BenchResults, derive, summaryTable } from "./report.js";

const round = (
  payload: PayloadSize,
  compression: Setting,
  figures: { msgsPerSec: number; connector: number; bytes: number; idle: number; loaded: number },
): CompressionRound => ({
  payload,
  compression,
  messages: 10_000,
  receipts: 10_000,
  delivered: 10_000,
  msgsPerSec: figures.msgsPerSec,
  cpuMicrosPerMessage: { connector: figures.connector, services: figures.connector * 3, clients: 50 },
  wire: {
    serverToClientBytesPerMessage: figures.bytes,
    clientToServerBytesPerMessage: 40,
    deflateSockets: compression === "on" ? 1_000 : 0,
  },
  memory: {
    connections: 1_000,
    rssBeforeBytes: 100e6,
    rssIdleBytes: 100e6 + figures.idle * 1_000,
    rssLoadedBytes: 100e6 + figures.loaded * 1_000,
    idlePerConnectionBytes: figures.idle,
    loadedPerConnectionBytes: figures.loaded,
  },
  loadAverage: 1.5,
});

const rounds: CompressionRound[] = [
  round("small", "off", { msgsPerSec: 1_000, connector: 100, bytes: 300, idle: 20_000, loaded: 30_000 }),
  round("small", "on", { msgsPerSec: 990, connector: 100, bytes: 301, idle: 20_000, loaded: 30_000 }),
  round("large", "off", { msgsPerSec: 800, connector: 120, bytes: 3_000, idle: 20_000, loaded: 30_000 }),
  round("large", "on", { msgsPerSec: 700, connector: 170, bytes: 1_300, idle: 20_000, loaded: 280_000 }),
  round("small", "off", { msgsPerSec: 1_000, connector: 100, bytes: 300, idle: 20_000, loaded: 30_000 }),
  round("small", "on", { msgsPerSec: 1_010, connector: 100, bytes: 299, idle: 20_000, loaded: 30_000 }),
  round("large", "off", { msgsPerSec: 800, connector: 120, bytes: 3_000, idle: 20_000, loaded: 30_000 }),
  round("large", "on", { msgsPerSec: 700, connector: 190, bytes: 1_300, idle: 20_000, loaded: 320_000 }),
];
const samples = [
  { payload: "small" as const, bodyBytes: 250, frameBytes: 300, offlineDeflateRatio: 0.71 },
  { payload: "large" as const, bodyBytes: 2_950, frameBytes: 3_000, offlineDeflateRatio: 0.43 },
];
const result = summarizeCompression(rounds, samples);

function benchResults(): BenchResults {
  const parts = {
    nats: { skipped: "--skip" },
    herald: { skipped: "--skip" },
    compression: result,
    ws: { skipped: "--skip" },
    socketio: { skipped: "--skip" },
  };
  return {
    version: 1,
    startedAt: "2026-12-06T00:00:00.000Z",
    finishedAt: "2026-12-06T00:02:00.000Z",
    durationSec: 120,
    command: "pnpm bench --quick --skip nats,herald,tracing,ws,sio --out /tmp/somewhere/results",
    machine: { cpus: 2, cpuModel: "test" },
    options: { quick: true, users: 1_000, messages: 10_000, outDir: undefined, redisUrl: "redis://x" },
    ...parts,
    ...derive(parts, 2),
    notes: [],
  };
}

describe("compression ratios", () => {
  it("divides the sum over the on rounds by the sum over the off rounds", () => {
    const large = rounds.filter((r) => r.payload === "large");
    expect(onOffRatio(large, (r) => r.msgsPerSec)).toBe(0.875);
    expect(onOffRatio(large, (r) => r.cpuMicrosPerMessage.connector ?? 0)).toBe(1.5);
    expect(onOffRatio(large.slice(1, 2), (r) => r.msgsPerSec)).toBeNaN();
  });

  it("keeps each payload size's sample and ratios apart", () => {
    const [small, large] = result.sizes;
    expect(small).toMatchObject({ payload: "small", frameBytes: 300, offlineDeflateRatio: 0.71 });
    expect(small?.ratios).toEqual({
      throughput: 1,
      connectorCpu: 1,
      servicesCpu: 1,
      serverToClientBytes: 1,
      rssPerConnectionIdle: 1,
      rssPerConnectionLoaded: 1,
    });
    expect(large?.ratios).toEqual({
      throughput: 0.875,
      connectorCpu: 1.5,
      servicesCpu: 1.5,
      serverToClientBytes: 0.433,
      rssPerConnectionIdle: 1,
      rssPerConnectionLoaded: 10,
    });
    expect(result.rounds).toHaveLength(8);
  });
});

describe("compression report", () => {
  it("lists each round and the on ÷ off ratios per size in the summary, and nothing without the part", () => {
    const lines = compressionLines(result);
    expect(lines).toHaveLength(4);
    expect(lines[2]).toBe(
      "Compression, large payloads (3000 B frames, 0.43 deflated offline): " +
        "off 800 msg/s, connector 120 µs, 3000 B, 30000 B/conn (load 1.5); " +
        "on 700 msg/s, connector 170 µs, 1300 B, 280000 B/conn (load 1.5); " +
        "off 800 msg/s, connector 120 µs, 3000 B, 30000 B/conn (load 1.5); " +
        "on 700 msg/s, connector 190 µs, 1300 B, 320000 B/conn (load 1.5)",
    );
    expect(lines[3]).toBe(
      "Compression on / off, large: throughput 0.875, connector CPU per message 1.500, services CPU 1.500, " +
        "bytes on the wire 0.433, RSS per connection 10.000 (idle 1.000)",
    );
    expect(compressionLines(undefined)).toEqual([]);
    const table = summaryTable(benchResults());
    expect(table).toContain(lines[3]);
    expect(summaryTable({ ...benchResults(), compression: { skipped: "--skip" } })).not.toContain(
      "Compression",
    );
  });

  it("adds the large size's off and on bars to the main chart, the on bar noted with its ratios", () => {
    const bars = chartInput(benchResults()).throughput.filter((b) => b.label.includes("deflate"));
    expect(bars.map((b) => [b.label, b.value])).toEqual([
      ["Herald, 3k B frames, deflate off", 800],
      ["Herald, 3k B frames, deflate on", 700],
    ]);
    expect(bars[1]?.note).toBe("0.875× off; bytes 0.433×");
    const without = chartInput({ ...benchResults(), compression: { skipped: "--skip" } });
    expect(without.throughput.some((b) => b.label.includes("deflate"))).toBe(false);
  });

  it("charts four panels of off and on bars per size, scaled to the largest bar of each panel", () => {
    const svg = renderCompressionChart(result, "1000 users <test>");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("1000 users &lt;test&gt;");
    for (const title of ["Throughput", "Connector CPU", "Bytes per message", "RSS per connection"])
      expect(svg).toContain(title);
    // Means of the rounds: connector CPU of large on is (170 + 190) / 2, the widest bar of its panel.
    expect(svg).toContain("180 µs  1.50× off");
    expect(svg).toContain("300k B  10.00× off");
    expect(svg).toContain('width="480.0" height="20" fill="#d9822b"');
    expect(svg).not.toMatch(/NaN|undefined/);
  });

  it("writes the part's own document without any path of the machine", () => {
    const doc = compressionDocument(benchResults(), result);
    expect(doc.command).toBe("pnpm bench --quick --skip nats,herald,tracing,ws,sio");
    expect(doc.options).toEqual({
      quick: true,
      users: 1_000,
      messages: 10_000,
      window: undefined,
      inflight: undefined,
      clientProcs: undefined,
    });
    expect(JSON.stringify(doc)).not.toContain("/tmp");
    expect(doc.compression).toBe(result);
  });

  it("drops --out in both spellings from a command line", () => {
    expect(withoutPaths("pnpm bench --out=/x/y --quick")).toBe("pnpm bench --quick");
    expect(withoutPaths("pnpm bench --quick --out /x/y --users 10")).toBe("pnpm bench --quick --users 10");
    expect(withoutPaths("pnpm bench")).toBe("pnpm bench");
  });
});
