import { type BenchData, wallUs } from "./clock.js";

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
  /**
   * The same split where the message was stored on its way (Herald: the intake stream's timestamp), µs on the
   * wall clock: publish → stored, and stored → receive.
   */
  stages?: { toStored: Float64Array; fromStored: Float64Array };
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
  #toStored: number[] = [];
  #fromStored: number[] = [];

  reset(phase: number, messages: number, recordLatencies: boolean): void {
    this.#phase = phase;
    this.#seen = new Uint8Array(messages);
    this.#unique = 0;
    this.#duplicates = 0;
    this.#stale = 0;
    this.#lastUs = 0;
    this.#record = recordLatencies;
    this.#latencies = [];
    this.#toStored = [];
    this.#fromStored = [];
  }

  /**
   * `storedAtMs`: when the message was stored on its way (epoch ms), if the frame says; `nowWallUs` defaults to
   * the wall clock, read only when the split is recorded.
   */
  receive(data: BenchData | undefined, nowUs: number, storedAtMs?: number, nowWallUs?: number): void {
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
    if (!this.#record) return;
    this.#latencies.push(nowUs - data.t);
    if (storedAtMs !== undefined && data.w !== undefined) {
      // The stored timestamp has millisecond resolution: each half is off by up to 1 ms, their sum is not.
      this.#toStored.push(storedAtMs * 1000 - data.w);
      this.#fromStored.push((nowWallUs ?? wallUs()) - storedAtMs * 1000);
    }
  }

  snapshot(withLatencies: boolean): TallySnapshot {
    return {
      unique: this.#unique,
      duplicates: this.#duplicates,
      stale: this.#stale,
      lastUs: this.#lastUs,
      ...(withLatencies ? { latencies: Float64Array.from(this.#latencies) } : {}),
      ...(withLatencies && this.#toStored.length > 0
        ? {
            stages: {
              toStored: Float64Array.from(this.#toStored),
              fromStored: Float64Array.from(this.#fromStored),
            },
          }
        : {}),
    };
  }
}

/** Sums the snapshots of several processes (latencies and stage splits concatenated). */
export function mergeSnapshots(snapshots: TallySnapshot[]): Required<TallySnapshot> {
  return {
    unique: snapshots.reduce((sum, s) => sum + s.unique, 0),
    duplicates: snapshots.reduce((sum, s) => sum + s.duplicates, 0),
    stale: snapshots.reduce((sum, s) => sum + s.stale, 0),
    lastUs: Math.max(0, ...snapshots.map((s) => s.lastUs)),
    latencies: concat(snapshots.map((s) => s.latencies)),
    stages: {
      toStored: concat(snapshots.map((s) => s.stages?.toStored)),
      fromStored: concat(snapshots.map((s) => s.stages?.fromStored)),
    },
  };
}

function concat(parts: (Float64Array | undefined)[]): Float64Array {
  const out = new Float64Array(parts.reduce((sum, part) => sum + (part?.length ?? 0), 0));
  let offset = 0;
  for (const part of parts) {
    if (!part) continue;
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
