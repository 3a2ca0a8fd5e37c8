import { join } from "node:path";
import type { FanoutPart, FanoutSide } from "./fanout-run.js";
import { ratio } from "./stats.js";
import { type ChartInput, formatNumber, renderChart } from "./svg.js";

/** Raised for an unknown flag or a bad value; main prints it with the usage. */
export class FanoutOptionsError extends Error {
  override name = "FanoutOptionsError";
  readonly code = "bench_fanout_options";
}

export type FanoutOptions = {
  /** Subscribers of the one channel (one WebSocket each), on one connector. */
  clients: number;
  /** Load-generator processes the clients are spread over. */
  clientProcs: number;
  /** Source addresses 127.0.0.2 … the clients connect from, round-robin. */
  sourceAddresses: number;
  /** Messages of each saturation round, sent back to back. */
  messages: number;
  rounds: number;
  warmup: number;
  /** Offered rate of the latency run, msg/s (each goes to every client). */
  rate: number;
  latencySeconds: number;
  quietWaitSeconds: number;
  /** One extra saturation round with the V8 profiler on the fan-out process. */
  profile: boolean;
  outDir: string;
};

export const FANOUT_TARGET_RATIO = 0.7;

const DEFAULTS = {
  clients: 10_000,
  clientProcs: 4,
  sourceAddresses: 10,
  messages: 50,
  rounds: 5,
  warmup: 20,
  rate: 2,
  latencySeconds: 10,
  quietWaitSeconds: 10,
};
type NumericKey = keyof typeof DEFAULTS;

export const FANOUT_USAGE = `usage: node bench/dist/fanout-main.js [--clients N] [--client-procs N] [--source-addresses N]
  [--messages N] [--rounds N] [--warmup N] [--rate N] [--latency-seconds N] [--quiet-wait-seconds N]
  [--no-profile] [--quick] [--out DIR]`;

/**
 * Flags (`--clients 2000`) over defaults; `--quick` is a small smoke run.
 *
 * @example
 * parseFanoutOptions(["--clients", "2000"], "/repo/bench").clients // 2000
 */
export function parseFanoutOptions(argv: string[], benchDir: string): FanoutOptions {
  const o: FanoutOptions = { ...DEFAULTS, profile: true, outDir: join(benchDir, "results") };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] ?? "";
    if (flag === "--quick") {
      Object.assign(o, { clients: 1_000, rounds: 1, latencySeconds: 3, quietWaitSeconds: 2 });
      continue;
    }
    if (flag === "--no-profile") {
      o.profile = false;
      continue;
    }
    const value = argv[++i];
    if (value === undefined) throw new FanoutOptionsError(`${flag} needs a value`);
    if (flag === "--out") {
      o.outDir = value;
      continue;
    }
    const key = flag.replace(/^--/, "").replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (!(key in DEFAULTS)) throw new FanoutOptionsError(`unknown option ${flag}`);
    const number = Number(value);
    if (!Number.isInteger(number) || number <= 0)
      throw new FanoutOptionsError(`${flag} must be a positive integer`);
    o[key as NumericKey] = number;
  }
  if (o.sourceAddresses > 250) throw new FanoutOptionsError("--source-addresses must be at most 250");
  return o;
}

export type FanoutResults = {
  herald: FanoutSide;
  raw: FanoutSide;
};

const ok = (part: FanoutSide): FanoutPart | undefined => ("skipped" in part ? undefined : part);

/** The median (lower middle for an even count). */
function middle(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;
}

/** Herald against the raw ceiling: wall-clock (best and median rounds) and server CPU per delivery. */
export function fanoutVerdict(results: FanoutResults) {
  const herald = ok(results.herald);
  const raw = ok(results.raw);
  const best = ratio(herald?.best.deliveriesPerSec, raw?.best.deliveriesPerSec);
  // Round i of each side ran back to back (the order alternates), under about the same outside load.
  const paired = (herald?.rounds ?? [])
    .map((round, i) => ratio(round.deliveriesPerSec, raw?.rounds[i]?.deliveriesPerSec))
    .filter((value): value is number => value !== null);
  const pairedMedian = paired.length > 0 ? middle(paired) : null;
  return {
    targetRatio: FANOUT_TARGET_RATIO,
    /** Median of Herald ÷ raw over adjacent round pairs: the headline, least moved by outside load. */
    pairedMedianRatio: pairedMedian,
    pairedRatios: paired,
    bestRatio: best,
    medianRatio: ratio(herald?.medianDeliveriesPerSec, raw?.medianDeliveriesPerSec),
    /**
     * Raw server CPU ÷ connector CPU per delivery (medians over the rounds): the comparison without the load
     * generators, which share this machine's cores with the servers and so pull the wall-clock ratio up.
     */
    cpuEfficiencyRatio: ratio(
      raw?.serverCpuMicrosPerDelivery.total,
      herald?.serverCpuMicrosPerDelivery.total,
    ),
    /** The same for user time only (JS and V8; system time is mostly the kernel's loopback TCP in writev). */
    userCpuEfficiencyRatio: ratio(
      raw?.serverCpuMicrosPerDelivery.user,
      herald?.serverCpuMicrosPerDelivery.user,
    ),
    met: pairedMedian === null ? null : pairedMedian >= FANOUT_TARGET_RATIO,
    heraldP99Ms: herald?.latency.latencyMs.p99 ?? null,
    rawP99Ms: raw?.latency.latencyMs.p99 ?? null,
  };
}

/** The stdout table. */
export function fanoutSummary(results: FanoutResults): string {
  const lines = [
    "part     deliveries/s (best / median)  µs CPU/delivery (user+sys)  p50 ms  p99 ms  complete",
  ];
  for (const [name, part] of [
    ["herald", results.herald],
    ["raw ws", results.raw],
  ] as const) {
    const p = ok(part);
    if (!p) {
      lines.push(`${name.padEnd(8)} skipped: ${(part as { skipped: string }).skipped}`);
      continue;
    }
    const complete = p.rounds.every((r) => r.complete) && p.latency.complete;
    lines.push(
      `${name.padEnd(8)} ${`${p.best.deliveriesPerSec} / ${p.medianDeliveriesPerSec}`.padEnd(29)} ` +
        `${`${p.serverCpuMicrosPerDelivery.total} (${p.serverCpuMicrosPerDelivery.user}+${p.serverCpuMicrosPerDelivery.system})`.padEnd(27)} ${String(p.latency.latencyMs.p50).padEnd(7)} ` +
        `${String(p.latency.latencyMs.p99).padEnd(7)} ${complete}`,
    );
  }
  const v = fanoutVerdict(results);
  lines.push(
    `Herald ÷ raw: ${v.pairedMedianRatio} (median of round pairs ${v.pairedRatios.join(", ")}), ${v.bestRatio} best ÷ best, ` +
      `${v.medianRatio} median ÷ median; target ≥ ${v.targetRatio}: ${v.met === null ? "n/a" : v.met ? "met" : "missed"}`,
    `server CPU per delivery, raw ÷ connector: ${v.cpuEfficiencyRatio} (user time only: ${v.userCpuEfficiencyRatio})`,
  );
  return lines.join("\n");
}

/** The SVG: deliveries per second (best and median round) and latency at the paced rate. */
export function renderFanoutChart(results: FanoutResults, options: FanoutOptions, subtitle: string): string {
  const herald = ok(results.herald);
  const raw = ok(results.raw);
  const v = fanoutVerdict(results);
  const bars: ChartInput["throughput"] = [];
  if (herald) {
    bars.push({ label: "Herald, best round", value: herald.best.deliveriesPerSec, highlight: true });
    bars.push({
      label: "Herald, median round",
      value: herald.medianDeliveriesPerSec,
      highlight: true,
      ...(v.pairedMedianRatio === null
        ? {}
        : { note: `${v.pairedMedianRatio}× raw (median of paired rounds)` }),
    });
  }
  if (raw) {
    bars.push({ label: "raw ws broadcast, best", value: raw.best.deliveriesPerSec });
    bars.push({ label: "raw ws broadcast, median", value: raw.medianDeliveriesPerSec });
  }
  const latency: ChartInput["latency"] = [];
  if (herald) latency.push({ label: "Herald", ...herald.latency.latencyMs });
  if (raw) latency.push({ label: "raw ws broadcast", ...raw.latency.latencyMs });
  const notes: string[] = [];
  if (herald && raw) {
    notes.push(
      `Herald ÷ raw: ${v.pairedMedianRatio} (median of adjacent round pairs; best ÷ best ${v.bestRatio}), target ≥ ${FANOUT_TARGET_RATIO}: ${v.met ? "met" : "missed"}; ` +
        `CPU per delivery raw ÷ connector ${v.cpuEfficiencyRatio}.`,
    );
    const cpu = (p: FanoutPart) =>
      `${p.serverCpuMicrosPerDelivery.total} µs (user ${p.serverCpuMicrosPerDelivery.user} + system ${p.serverCpuMicrosPerDelivery.system})`;
    notes.push(`Server CPU per delivery (median round): connector ${cpu(herald)}, raw ws ${cpu(raw)}.`);
    notes.push(
      `Connector RSS ${formatNumber(herald.memory.rssConnectedBytes / 1e6)} MB with ${options.clients} subscribers ` +
        `(+${formatNumber(herald.memory.perConnectionBytes)} B each), peak ${formatNumber(Math.max(...herald.rounds.map((r) => r.serverPeakRssBytes)) / 1e6)} MB during the rounds.`,
    );
  }
  notes.push(
    `${options.clients} clients in ${options.clientProcs} processes from ${options.sourceAddresses} addresses; ` +
      `connector HERALD_MAX_CONNECTIONS_PER_IP=20000, HERALD_MAX_NEW_CONNECTIONS_PER_SECOND=20000.`,
  );
  const target = raw ? raw.medianDeliveriesPerSec * FANOUT_TARGET_RATIO : undefined;
  const svg = renderChart({
    title: `Channel fan-out: 1 channel → ${formatNumber(options.clients)} subscribers on one connector`,
    subtitle,
    throughput: bars,
    ...(target === undefined
      ? {}
      : { throughputTarget: { label: `target ${formatNumber(target)}`, value: target } }),
    latency,
    latencyTitle: `Publish → receive latency at ${options.rate} msg/s × ${formatNumber(options.clients)} subscribers (log scale)`,
    notes,
  });
  // The shared chart titles its first panel in messages; here every bar counts deliveries.
  return svg.replace("Throughput, messages per second (log scale)", "Deliveries per second (log scale)");
}
