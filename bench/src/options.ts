import { join } from "node:path";

/** Raised for an unknown flag or a bad value; main prints it with the usage. */
export class BenchOptionsError extends Error {
  override name = "BenchOptionsError";
  readonly code = "bench_options";
}

export const SYSTEMS = [
  "nats",
  "herald",
  "tracing",
  "compression",
  "ws",
  "sio",
  "idle",
  "routers",
  "scale",
  "storm",
  "soak",
] as const;
export type SystemName = (typeof SYSTEMS)[number];

export type BenchOptions = {
  quick: boolean;
  /** Connected users (one WebSocket each). */
  users: number;
  /** Messages of each saturation run (Herald end to end, raw ws, Socket.IO). */
  messages: number;
  /** Offered rate of the latency runs, msg/s. */
  rate: number;
  /** Length of each latency run. */
  latencySeconds: number;
  /** Messages of the raw JetStream publish measurement. */
  rawMessages: number;
  /** Messages of the core NATS pub→sub measurement. */
  coreMessages: number;
  /** Outstanding PubAcks allowed to a publisher. */
  window: number;
  /** Herald's sustained run: messages published but not yet acked end to end (receipted), at most. */
  inflight: number;
  /** Size of a published JSON body. */
  payloadBytes: number;
  /** Load-generator processes the clients are spread over. */
  clientProcs: number;
  /** Idle authenticated connections of the memory part (`idle`), to each system. */
  idleConnections: number;
  /** Authenticated connections of the `scale` part, over at least 6 connectors. */
  scaleConnections: number;
  /** Clients on the connector the `storm` part kills. */
  stormClients: number;
  /** Messages per second to the storm's users while it runs. */
  stormRate: number;
  /** The idle part's active phase: seconds of one message per connection per second. */
  idleActiveSeconds: number;
  /** The soak part: clients connected for its whole length. */
  soakConnections: number;
  /** The soak part: messages per second over all its clients. */
  soakRate: number;
  /** The soak part: minutes of load. */
  soakMinutes: number;
  /** Longest wait before each part for the machine to be quiet (other work under half a core). */
  quietWaitSeconds: number;
  redisUrl: string;
  /** GOGC for the bench's nats-server (Go's default, 100, when undefined). */
  natsGogc?: number;
  /** GOMAXPROCS for the bench's nats-servers (Go's own choice, every core, when undefined). */
  natsGomaxprocs?: number;
  /** Further offered rates Herald's latency run is repeated at (empty: none). */
  latencyRates: number[];
  /** Offered rates of the ladder each system climbs (empty: none), ascending. */
  ladderRates: number[];
  /** Length of each ladder step. */
  ladderSeconds: number;
  /** Publisher of Herald's latency run: `pipelined` (JsPublisher, the lighter load) or `js` (js.publish). */
  latencyClient: "js" | "pipelined";
  skip: SystemName[];
  outDir: string;
};

const DEFAULTS = {
  users: 1_000,
  messages: 50_000,
  rate: 5_000,
  latencySeconds: 10,
  rawMessages: 100_000,
  coreMessages: 500_000,
  window: 512,
  inflight: 2_000,
  payloadBytes: 200,
  clientProcs: 1,
  idleConnections: 10_000,
  scaleConnections: 100_000,
  stormClients: 15_000,
  stormRate: 500,
  idleActiveSeconds: 30,
  soakConnections: 2_000,
  soakRate: 1_000,
  soakMinutes: 60,
  quietWaitSeconds: 30,
  ladderSeconds: 5,
};
const QUICK = {
  messages: 10_000,
  latencySeconds: 3,
  rawMessages: 30_000,
  coreMessages: 200_000,
  idleConnections: 2_000,
  scaleConnections: 6_000,
  stormClients: 3_000,
  stormRate: 200,
  idleActiveSeconds: 10,
  soakConnections: 500,
  soakMinutes: 2,
  quietWaitSeconds: 2,
  ladderSeconds: 2,
};

type NumericKey = keyof typeof DEFAULTS;
const NUMERIC_FLAGS: Record<string, NumericKey> = {
  "--users": "users",
  "--messages": "messages",
  "--rate": "rate",
  "--latency-seconds": "latencySeconds",
  "--raw-messages": "rawMessages",
  "--core-messages": "coreMessages",
  "--window": "window",
  "--inflight": "inflight",
  "--payload-bytes": "payloadBytes",
  "--client-procs": "clientProcs",
  "--idle-connections": "idleConnections",
  "--scale-connections": "scaleConnections",
  "--storm-clients": "stormClients",
  "--storm-rate": "stormRate",
  "--quiet-wait-seconds": "quietWaitSeconds",
  "--ladder-seconds": "ladderSeconds",
  "--idle-active-seconds": "idleActiveSeconds",
  "--soak-connections": "soakConnections",
  "--soak-rate": "soakRate",
  "--soak-minutes": "soakMinutes",
};

export const USAGE = `usage: pnpm bench [--quick] [--users N] [--messages N] [--rate N] [--latency-seconds S]
  [--raw-messages N] [--core-messages N] [--window N] [--inflight N] [--payload-bytes N] [--client-procs N] [--idle-connections N]
  [--idle-active-seconds S] [--scale-connections N] [--storm-clients N] [--storm-rate N]
  [--soak-connections N] [--soak-rate N] [--soak-minutes N] [--quiet-wait-seconds S]
  [--redis-url URL] [--latency-client pipelined|js] [--latency-rates N,N,...|none] [--nats-gogc N]
  [--nats-gomaxprocs N] [--ladder-rates N,N,...|none] [--ladder-seconds S]
  [--skip PART,...] [--only PART,...] [--out DIR]
Parts: nats,herald,tracing,compression,ws,sio,idle,routers (run by default) and scale,storm,soak (long: only with --only).
Each flag also reads from the environment: BENCH_USERS, BENCH_MESSAGES, ..., BENCH_QUICK=1, BENCH_REDIS_URL.`;

const envName = (flag: string) => `BENCH_${flag.slice(2).replace(/-/g, "_").toUpperCase()}`;

function positive(flag: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0)
    throw new BenchOptionsError(`${flag} must be a positive integer`);
  return value;
}

function parseLatencyClient(raw: string): "js" | "pipelined" {
  if (raw === "js" || raw === "pipelined") return raw;
  throw new BenchOptionsError(`--latency-client takes js or pipelined; got '${raw}'`);
}

/** Default sweep below the target rate; `--quick` skips it. */
const DEFAULT_LATENCY_RATES = [2_000, 3_000, 4_000];

/** The offered-load ladder: up from the 5,000 and 10,000 msg/s until each system fails. */
// 2,500 first: on a busy shared machine a rung below the targets still gives every system a figure. Rungs
// 2,500 apart from 10,000 to 20,000 and 5,000 apart to 40,000, where the brokers' limits lie on this machine:
// with 5,000 and 10,000 between rungs there, a ratio of two systems' highest rates moved in steps of a quarter.
const DEFAULT_LADDER_RATES = [
  2_500, 5_000, 10_000, 12_500, 15_000, 17_500, 20_000, 25_000, 30_000, 35_000, 40_000, 60_000, 80_000,
  100_000, 140_000,
];
const QUICK_LADDER_RATES = [2_500, 5_000, 10_000, 20_000, 40_000, 80_000];

function parseRates(raw: string, flag = "--latency-rates"): number[] {
  if (raw.trim() === "none") return [];
  return raw
    .split(",")
    .map((rate) => rate.trim())
    .filter(Boolean)
    .map((rate) => positive(flag, rate));
}

/** `{ [key]: n }` for a flag given as a positive integer; `{}` when it is absent. */
function optionalPositive<K extends string>(
  key: K,
  flag: string,
  raw: string | undefined,
): { [k in K]?: number } {
  return raw ? ({ [key]: positive(flag, raw) } as { [k in K]?: number }) : {};
}

function parseLadder(raw: string | undefined, quick: boolean): number[] {
  if (!raw) return quick ? QUICK_LADDER_RATES : DEFAULT_LADDER_RATES;
  const rates = parseRates(raw, "--ladder-rates");
  if (rates.some((rate, i) => i > 0 && rate <= (rates[i - 1] ?? 0)))
    throw new BenchOptionsError("--ladder-rates must be ascending");
  return rates;
}

/** Parts that take the machine for many minutes (100k connections, a 15k-client storm, an hour's soak): run only when named by `--only`. */
export const LONG_PARTS: readonly SystemName[] = ["scale", "storm", "soak"];

function parseParts(flag: string, raw: string): SystemName[] {
  const names = raw
    .split(",")
    .map((name) => name.trim())
    .filter(Boolean);
  for (const name of names) {
    if (!(SYSTEMS as readonly string[]).includes(name)) {
      throw new BenchOptionsError(`${flag} takes ${SYSTEMS.join(", ")}; got '${name}'`);
    }
  }
  return names as SystemName[];
}

/** `--only` names the parts to run (long ones included); otherwise every part but `--skip` and the long ones. */
function parseSkip(skipRaw: string, onlyRaw: string): SystemName[] {
  const skip = parseParts("--skip", skipRaw);
  const only = parseParts("--only", onlyRaw);
  if (only.length > 0) {
    if (skip.length > 0) throw new BenchOptionsError("--only and --skip do not go together");
    return SYSTEMS.filter((name) => !only.includes(name));
  }
  return [...new Set([...skip, ...LONG_PARTS])];
}

/**
 * Options from flags, then `BENCH_*` variables, then the defaults (`--quick` lowers the sizes).
 *
 * @example
 * parseOptions(["--quick", "--users", "200"], {}, "/repo/bench")
 */
export function parseOptions(
  argv: string[],
  env: Record<string, string | undefined>,
  benchDir: string,
): BenchOptions {
  const given = new Map<string, string>();
  let quick = env.BENCH_QUICK === "1" || env.BENCH_QUICK === "true";
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--quick") {
      quick = true;
      continue;
    }
    const [flag, inline] = arg.includes("=")
      ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
      : [arg];
    const known =
      flag !== undefined &&
      (flag in NUMERIC_FLAGS ||
        [
          "--redis-url",
          "--skip",
          "--only",
          "--out",
          "--latency-client",
          "--latency-rates",
          "--nats-gogc",
          "--nats-gomaxprocs",
          "--ladder-rates",
        ].includes(flag));
    if (!known || flag === undefined) throw new BenchOptionsError(`unknown argument '${arg}'`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new BenchOptionsError(`${flag} needs a value`);
    given.set(flag, value);
  }
  const read = (flag: string) => given.get(flag) ?? env[envName(flag)];
  const sizes: Record<NumericKey, number> = { ...DEFAULTS, ...(quick ? QUICK : {}) };
  for (const [flag, key] of Object.entries(NUMERIC_FLAGS)) {
    const raw = read(flag);
    if (raw !== undefined && raw !== "") sizes[key] = positive(flag, raw);
  }
  const rates = read("--latency-rates");
  return {
    quick,
    ...sizes,
    redisUrl: read("--redis-url") || "redis://127.0.0.1:6379",
    latencyClient: parseLatencyClient(read("--latency-client") || "pipelined"),
    latencyRates: rates ? parseRates(rates) : quick ? [] : DEFAULT_LATENCY_RATES,
    ladderRates: parseLadder(read("--ladder-rates"), quick),
    ...optionalPositive("natsGogc", "--nats-gogc", read("--nats-gogc")),
    ...optionalPositive("natsGomaxprocs", "--nats-gomaxprocs", read("--nats-gomaxprocs")),
    skip: parseSkip(read("--skip") ?? "", read("--only") ?? ""),
    outDir: read("--out") || join(benchDir, "results"),
  };
}

/** The Go runtime's env for the bench's nats-servers (only nats-server, the one Go process, reads it). */
export function natsGoEnv(o: BenchOptions): Record<string, string> {
  return {
    ...(o.natsGogc === undefined ? {} : { GOGC: String(o.natsGogc) }),
    ...(o.natsGomaxprocs === undefined ? {} : { GOMAXPROCS: String(o.natsGomaxprocs) }),
  };
}

/** Env given as JSON in the variable `name` (to compare settings from the command line); `{}` when unset. */
export function jsonEnv(name: string): Record<string, string> {
  const raw = process.env[name];
  if (!raw) return {};
  const parsed: unknown = JSON.parse(raw);
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new Error(`${name} must be a JSON object of strings`);
  return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
}

/**
 * The services' `NODE_OPTIONS` from `BENCH_SERVICE_NODE_OPTIONS` (a profiling aid, e.g. `--cpu-prof
 * --cpu-prof-dir=<dir>`), as env for `startStack`; empty when unset, so the chart's options apply.
 */
export function serviceNodeOptionsEnv(): { NODE_OPTIONS?: string } {
  const options = process.env.BENCH_SERVICE_NODE_OPTIONS;
  return options ? { NODE_OPTIONS: options } : {};
}
