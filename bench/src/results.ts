import { loadavg } from "node:os";
import type { LadderResult } from "./ladder.js";
import type { LatencySummary } from "./stats.js";

/** RSS of a server process with no connections and with `connections` idle ones. */
export type MemoryResult = {
  connections: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  perConnectionBytes: number;
};

/** Messages pushed as fast as the system takes them, until all arrived (or stopped arriving). */
export type ThroughputRun = {
  messages: number;
  /** Distinct messages received by the clients. */
  delivered: number;
  duplicates: number;
  /** Everything was delivered (and, for Herald, acked). */
  complete: boolean;
  /** Time the sender needed to hand every message over. */
  publishMs: number;
  /** From the first send to the last delivery (Herald: the last ack receipt). */
  elapsedMs: number;
  msgsPerSec: number;
};

/** Messages offered at a fixed rate, each carrying its send time; latency = receive − send. */
export type LatencyRun = {
  offeredRate: number;
  durationMs: number;
  messages: number;
  delivered: number;
  duplicates: number;
  /** Distinct deliveries over the time from the first send to the last delivery: below the offered rate
   * when the system could not keep up (then latency is mostly queueing). */
  achievedMsgsPerSec: number;
  latencyMs: LatencySummary;
};

export type BaselineResult = {
  memory: MemoryResult;
  throughput: ThroughputRun & { cpuSeconds: Record<string, number> };
  latency: LatencyRun;
  /** The offered-load ladder (absent with `--ladder-rates none` and in results from before it). */
  ladder?: LadderResult;
  /** The same ladder with other senders, by name (Socket.IO: `server 0 emits`). */
  ladderAlternatives?: Record<string, LadderResult>;
  /** 1-minute load average when the part started and ended: other work on the machine skews the figures. */
  loadAverage: [number, number];
};

/** The 1-minute load average, 2 decimals. */
export function loadAverage1m(): number {
  return Math.round((loadavg()[0] ?? 0) * 100) / 100;
}

export type Skipped = { skipped: string };
