import type { BenchResults } from "./report.js";
import { escapeXml, formatNumber, svgDocument } from "./svg.js";

export type PayloadSize = "small" | "large";
export type Setting = "off" | "on";

export type CompressionRound = {
  payload: PayloadSize;
  compression: Setting;
  messages: number;
  receipts: number;
  /** Distinct messages the clients received. */
  delivered: number;
  msgsPerSec: number;
  /** CPU µs per message: connector, router, persistence, nats-server, their sum (`services`), the load generator (`clients`). */
  cpuMicrosPerMessage: Record<string, number>;
  /** Bytes per message on the clients' TCP sockets (frame headers and all), and the sockets that negotiated the extension. */
  wire: {
    serverToClientBytesPerMessage: number;
    clientToServerBytesPerMessage: number;
    deflateSockets: number;
  };
  /** Connector RSS with no clients, with them connected and idle, and after the measured run. */
  memory: {
    connections: number;
    rssBeforeBytes: number;
    rssIdleBytes: number;
    rssLoadedBytes: number;
    idlePerConnectionBytes: number;
    loadedPerConnectionBytes: number;
  };
  loadAverage: number;
};

/** A payload size as published: mean body and `message` frame bytes, and deflated ÷ raw of its frames offline. */
export type CompressionSample = {
  payload: PayloadSize;
  bodyBytes: number;
  frameBytes: number;
  offlineDeflateRatio: number;
};

/** Σ on ÷ Σ off over the rounds of one payload size: 1 is no change. */
export type CompressionRatios = {
  throughput: number;
  connectorCpu: number;
  servicesCpu: number;
  serverToClientBytes: number;
  rssPerConnectionIdle: number;
  rssPerConnectionLoaded: number;
};

export type CompressionResult = {
  /** Off and on rounds of both sizes, each on a fresh stack. */
  rounds: CompressionRound[];
  sizes: (CompressionSample & { ratios: CompressionRatios })[];
  setup: string;
};

const round3 = (value: number) => Math.round(value * 1000) / 1000;

/** Σ on ÷ Σ off of `of` over `rounds` (NaN without both settings). */
export function onOffRatio(rounds: CompressionRound[], of: (r: CompressionRound) => number): number {
  const sum = (setting: Setting) =>
    rounds.filter((r) => r.compression === setting).reduce((a, r) => a + of(r), 0);
  const off = sum("off");
  return off > 0 ? round3(sum("on") / off) : Number.NaN;
}

/** The result of the part: its rounds, and per payload size the sample and the on ÷ off ratios. */
export function summarizeCompression(
  rounds: CompressionRound[],
  samples: CompressionSample[],
): CompressionResult {
  const sizes = samples.map((sample) => {
    const mine = rounds.filter((r) => r.payload === sample.payload);
    const ratio = (of: (r: CompressionRound) => number) => onOffRatio(mine, of);
    return {
      ...sample,
      ratios: {
        throughput: ratio((r) => r.msgsPerSec),
        connectorCpu: ratio((r) => r.cpuMicrosPerMessage.connector ?? Number.NaN),
        servicesCpu: ratio((r) => r.cpuMicrosPerMessage.services ?? Number.NaN),
        serverToClientBytes: ratio((r) => r.wire.serverToClientBytesPerMessage),
        rssPerConnectionIdle: ratio((r) => r.memory.idlePerConnectionBytes),
        rssPerConnectionLoaded: ratio((r) => r.memory.loadedPerConnectionBytes),
      },
    };
  });
  return {
    rounds,
    sizes,
    setup:
      "send.user (one user each), closed loop as the Herald part; on: HERALD_WS_COMPRESSION=true (connector's default threshold) and clients offering permessage-deflate with ws's defaults; bytes from the clients' TCP sockets; RSS per connection = connector RSS growth ÷ connections (idle: after connecting; loaded: after the measured run)",
  };
}

const cell = (value: number | undefined, digits = 0) =>
  value === undefined || !Number.isFinite(value) ? "-" : value.toFixed(digits);

/** The part's lines in the summary: each round, then the on ÷ off ratios per payload size. */
export function compressionLines(result: CompressionResult | undefined): string[] {
  if (!result) return [];
  return result.sizes.flatMap((size) => {
    const rounds = result.rounds
      .filter((r) => r.payload === size.payload)
      .map(
        (r) =>
          `${r.compression} ${cell(r.msgsPerSec)} msg/s, connector ${cell(r.cpuMicrosPerMessage.connector)} µs, ` +
          `${cell(r.wire.serverToClientBytesPerMessage)} B, ${cell(r.memory.loadedPerConnectionBytes)} B/conn (load ${r.loadAverage})`,
      )
      .join("; ");
    const q = size.ratios;
    return [
      `Compression, ${size.payload} payloads (${size.frameBytes} B frames, ${cell(size.offlineDeflateRatio, 2)} deflated offline): ${rounds}`,
      `Compression on / off, ${size.payload}: throughput ${cell(q.throughput, 3)}, connector CPU per message ${cell(q.connectorCpu, 3)}, ` +
        `services CPU ${cell(q.servicesCpu, 3)}, bytes on the wire ${cell(q.serverToClientBytes, 3)}, ` +
        `RSS per connection ${cell(q.rssPerConnectionLoaded, 3)} (idle ${cell(q.rssPerConnectionIdle, 3)})`,
    ];
  });
}

type Panel = {
  title: string;
  unit: string;
  value: (r: CompressionRound) => number;
  ratio: keyof CompressionRatios;
};

const PANELS: Panel[] = [
  { title: "Throughput, closed loop (msg/s)", unit: "", value: (r) => r.msgsPerSec, ratio: "throughput" },
  {
    title: "Connector CPU per message (µs)",
    unit: " µs",
    value: (r) => r.cpuMicrosPerMessage.connector ?? Number.NaN,
    ratio: "connectorCpu",
  },
  {
    title: "Bytes per message, server → client, on the wire",
    unit: " B",
    value: (r) => r.wire.serverToClientBytesPerMessage,
    ratio: "serverToClientBytes",
  },
  {
    title: "Connector RSS per connection after the run (bytes)",
    unit: " B",
    value: (r) => r.memory.loadedPerConnectionBytes,
    ratio: "rssPerConnectionLoaded",
  },
];

/** Mean of `value` over the rounds of one size and setting. */
function meanOf(result: CompressionResult, payload: PayloadSize, setting: Setting, value: Panel["value"]) {
  const values = result.rounds
    .filter((r) => r.payload === payload && r.compression === setting)
    .map(value)
    .filter(Number.isFinite);
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

/** Four panels (msg/s, connector CPU, wire bytes, RSS per connection), off and on bars per payload size, on noted with on ÷ off. */
export function renderCompressionChart(result: CompressionResult, subtitle: string): string {
  const width = 900;
  const labelW = 260;
  const plotW = 480;
  const out: string[] = [];
  const text = (x: number, y: number, s: string, attrs = "") =>
    `<text x="${x}" y="${y}" ${attrs}>${escapeXml(s)}</text>`;
  let y = 28;
  out.push(
    text(20, y, "Herald: WebSocket permessage-deflate off vs on", 'font-size="17" font-weight="bold"'),
  );
  y += 20;
  out.push(text(20, y, subtitle, 'fill="#555"'));
  y += 30;
  for (const panel of PANELS) {
    out.push(text(20, y, panel.title, 'font-weight="bold"'));
    y += 10;
    const bars = result.sizes.flatMap((size) =>
      (["off", "on"] as const).map((setting) => ({
        label: `${size.payload} (${formatNumber(size.frameBytes)} B frames), ${setting}`,
        value: meanOf(result, size.payload, setting, panel.value),
        note: setting === "on" ? `  ${cell(size.ratios[panel.ratio], 2)}× off` : "",
        fill: setting === "on" ? "#d9822b" : "#8aa4c8",
      })),
    );
    const max = Math.max(1, ...bars.map((b) => (Number.isFinite(b.value) ? b.value : 0)));
    for (const bar of bars) {
      const w = Math.max(1, ((Number.isFinite(bar.value) ? bar.value : 0) / max) * plotW);
      out.push(text(labelW - 8, y + 15, bar.label, 'text-anchor="end"'));
      out.push(`<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="20" fill="${bar.fill}"/>`);
      out.push(
        text(Math.round(labelW + w + 6), y + 15, `${formatNumber(bar.value)}${panel.unit}${bar.note}`),
      );
      y += 26;
    }
    y += 24;
  }
  out.push(text(20, y, "Bars: mean of the rounds; ratios: Σ on ÷ Σ off.", 'font-size="11" fill="#555"'));
  y += 20;
  return svgDocument(width, y, out);
}

/** `compression-latest.json`: the part with the run's context, without any path of this machine. */
export function compressionDocument(results: BenchResults, compression: CompressionResult) {
  return {
    version: 1,
    startedAt: results.startedAt,
    finishedAt: results.finishedAt,
    command: withoutPaths(results.command),
    machine: results.machine,
    options: Object.fromEntries(
      ["quick", "users", "messages", "window", "inflight", "clientProcs"].map((key) => [
        key,
        results.options[key],
      ]),
    ),
    compression,
  };
}

/** The command line without `--out DIR` / `--out=DIR`, the one flag that names a path. */
export function withoutPaths(command: string): string {
  return command
    .replace(/\s--out(=|\s+)\S+/g, "")
    .replace(/\s+/g, " ")
    .trim();
}
