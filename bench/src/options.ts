import { join } from "node:path";

/** Raised for an unknown flag or a bad value; main prints it with the usage. */
export class BenchOptionsError extends Error {
  override name = "BenchOptionsError";
  readonly code = "bench_options";
}

export const SYSTEMS = ["nats", "herald", "tracing", "compression", "ws", "sio", "idle", "soak"] as const;
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
  /** Further offered rates Herald's latency run is repeated at (empty: none). */
  latencyRates: number[];
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
  idleActiveSeconds: 30,
  soakConnections: 2_000,
  soakRate: 1_000,
  soakMinutes: 60,
  quietWaitSeconds: 30,
};
const QUICK = {
  messages: 10_000,
  latencySeconds: 3,
  rawMessages: 30_000,
  coreMessages: 200_000,
  idleConnections: 2_000,
  idleActiveSeconds: 10,
  soakConnections: 500,
  soakMinutes: 2,
  quietWaitSeconds: 2,
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
  "--quiet-wait-seconds": "quietWaitSeconds",
  "--idle-active-seconds": "idleActiveSeconds",
  "--soak-connections": "soakConnections",
  "--soak-rate": "soakRate",
  "--soak-minutes": "soakMinutes",
};

export const USAGE = `usage: pnpm bench [--quick] [--users N] [--messages N] [--rate N] [--latency-seconds S]
  [--raw-messages N] [--core-messages N] [--window N] [--inflight N] [--payload-bytes N] [--client-procs N] [--idle-connections N] [--quiet-wait-seconds S]
  [--idle-active-seconds S] [--soak-connections N] [--soak-rate N] [--soak-minutes N]
  [--redis-url URL] [--latency-client pipelined|js] [--latency-rates N,N,...|none] [--nats-gogc N] [--skip nats,herald,tracing,compression,ws,sio,idle,soak] [--out DIR]
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

function parseRates(raw: string): number[] {
  if (raw.trim() === "none") return [];
  return raw
    .split(",")
    .map((rate) => rate.trim())
    .filter(Boolean)
    .map((rate) => positive("--latency-rates", rate));
}

function parseSkip(raw: string): SystemName[] {
  const names = raw
    .split(",")
    .map((name) => name.trim())
    .filter(Boolean);
  for (const name of names) {
    if (!(SYSTEMS as readonly string[]).includes(name)) {
      throw new BenchOptionsError(`--skip takes ${SYSTEMS.join(", ")}; got '${name}'`);
    }
  }
  return names as SystemName[];
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
        ["--redis-url", "--skip", "--out", "--latency-client", "--latency-rates", "--nats-gogc"].includes(
          flag,
        ));
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
    ...(read("--nats-gogc") ? { natsGogc: positive("--nats-gogc", read("--nats-gogc") ?? "") } : {}),
    skip: parseSkip(read("--skip") ?? ""),
    outDir: read("--out") || join(benchDir, "results"),
  };
}
