import type { BenchData } from "./clock.js";

export type TallySnapshot = {
  /** Distinct messages of the current phase received. */
  unique: number;
  /** Repeats of a message already received (redeliveries). */
  duplicates: number;
  /** Messages of another phase (late resends), ignored. */
  stale: number;
  /** Monotonic µs of the last first delivery (0 if none). */
  lastUs: number;
  /** Receive − publish, µs, of each first delivery (only when recording). */
  latencies?: Float64Array;
};

/**
 * Counts what one load-generator process receives during a phase: each message index once, its latency from
 * the publish timestamp it carries, and repeats separately.
 *
 * @example
 * const tally = new Tally(); tally.reset(1, 100, true); tally.receive(data, nowUs());
 */
export class Tally {
  #phase = -1;
  #seen = new Uint8Array(0);
  #unique = 0;
  #duplicates = 0;
  #stale = 0;
  #lastUs = 0;
  #record = false;
  #latencies: number[] = [];

  reset(phase: number, messages: number, recordLatencies: boolean): void {
    this.#phase = phase;
    this.#seen = new Uint8Array(messages);
    this.#unique = 0;
    this.#duplicates = 0;
    this.#stale = 0;
    this.#lastUs = 0;
    this.#record = recordLatencies;
    this.#latencies = [];
  }

  receive(data: BenchData | undefined, nowUs: number): void {
    if (!data || data.ph !== this.#phase || !(data.i >= 0 && data.i < this.#seen.length)) {
      this.#stale++;
      return;
    }
    if (this.#seen[data.i]) {
      this.#duplicates++;
      return;
    }
    this.#seen[data.i] = 1;
    this.#unique++;
    this.#lastUs = nowUs;
    if (this.#record) this.#latencies.push(nowUs - data.t);
  }

  snapshot(withLatencies: boolean): TallySnapshot {
    return {
      unique: this.#unique,
      duplicates: this.#duplicates,
      stale: this.#stale,
      lastUs: this.#lastUs,
      ...(withLatencies ? { latencies: Float64Array.from(this.#latencies) } : {}),
    };
  }
}

/** Sums the snapshots of several processes (latencies concatenated). */
export function mergeSnapshots(snapshots: TallySnapshot[]): Required<TallySnapshot> {
  const total = snapshots.reduce((sum, s) => sum + (s.latencies?.length ?? 0), 0);
  const latencies = new Float64Array(total);
  let offset = 0;
  for (const s of snapshots) {
    if (!s.latencies) continue;
    latencies.set(s.latencies, offset);
    offset += s.latencies.length;
  }
  return {
    unique: snapshots.reduce((sum, s) => sum + s.unique, 0),
    duplicates: snapshots.reduce((sum, s) => sum + s.duplicates, 0),
    stale: snapshots.reduce((sum, s) => sum + s.stale, 0),
    lastUs: Math.max(0, ...snapshots.map((s) => s.lastUs)),
    latencies,
  };
}
