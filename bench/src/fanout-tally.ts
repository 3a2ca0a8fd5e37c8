import type { FanoutData } from "./fanout-frames.js";

export type FanoutSnapshot = {
  clients: number;
  /** First deliveries of the current phase, over all clients. */
  deliveries: number;
  /** A message a client already had (or an older one after a newer one). */
  duplicates: number;
  /** Messages a client skipped (it got a later one first): each skipped index counts once. */
  skipped: number;
  /** Frames of another phase (late warm-up messages), ignored. */
  stale: number;
  /** Monotonic µs of the last first delivery (0 if none). */
  lastUs: number;
  /** Receive − publish, µs, of each first delivery (only when recording and asked for). */
  latencies?: Float64Array;
};

/**
 * What the clients of one load-generator process received in a phase. Channel messages arrive in order per
 * client, so each client keeps only the highest index it saw: anything at or below it is a repeat, anything
 * past the next one means some were skipped.
 *
 * @example
 * const tally = new FanoutTally(2500); tally.reset(1, 200, false); tally.receive(0, data, nowUs());
 */
export class FanoutTally {
  #phase = -1;
  #last: Int32Array;
  #deliveries = 0;
  #duplicates = 0;
  #skipped = 0;
  #stale = 0;
  #lastUs = 0;
  #latencies = new Float64Array(0);
  #recorded = 0;

  constructor(private clients: number) {
    this.#last = new Int32Array(clients).fill(-1);
  }

  /** Starts a phase of `messages` messages for `clients` clients (latencies kept when `record`). */
  reset(phase: number, messages: number, record: boolean, clients = this.clients): void {
    this.clients = clients;
    this.#phase = phase;
    this.#last = new Int32Array(clients).fill(-1);
    this.#deliveries = 0;
    this.#duplicates = 0;
    this.#skipped = 0;
    this.#stale = 0;
    this.#lastUs = 0;
    this.#latencies = new Float64Array(record ? messages * clients : 0);
    this.#recorded = 0;
  }

  receive(client: number, data: FanoutData | undefined, nowUs: number): void {
    if (!data || data.ph !== this.#phase || client < 0 || client >= this.clients) {
      this.#stale++;
      return;
    }
    const last = this.#last[client] ?? -1;
    if (data.n <= last) {
      this.#duplicates++;
      return;
    }
    this.#skipped += data.n - last - 1;
    this.#last[client] = data.n;
    this.#deliveries++;
    this.#lastUs = nowUs;
    if (this.#recorded < this.#latencies.length) this.#latencies[this.#recorded++] = nowUs - data.t * 1000;
  }

  snapshot(withLatencies: boolean): FanoutSnapshot {
    return {
      clients: this.clients,
      deliveries: this.#deliveries,
      duplicates: this.#duplicates,
      skipped: this.#skipped,
      stale: this.#stale,
      lastUs: this.#lastUs,
      ...(withLatencies ? { latencies: this.#latencies.slice(0, this.#recorded) } : {}),
    };
  }
}

/** Sums the snapshots of several processes (latencies concatenated). */
export function mergeFanout(snapshots: FanoutSnapshot[]): Required<FanoutSnapshot> {
  const sum = (key: "clients" | "deliveries" | "duplicates" | "skipped" | "stale") =>
    snapshots.reduce((total, s) => total + s[key], 0);
  const latencies = new Float64Array(snapshots.reduce((n, s) => n + (s.latencies?.length ?? 0), 0));
  let offset = 0;
  for (const s of snapshots) {
    if (!s.latencies) continue;
    latencies.set(s.latencies, offset);
    offset += s.latencies.length;
  }
  return {
    clients: sum("clients"),
    deliveries: sum("deliveries"),
    duplicates: sum("duplicates"),
    skipped: sum("skipped"),
    stale: sum("stale"),
    lastUs: Math.max(0, ...snapshots.map((s) => s.lastUs)),
    latencies,
  };
}
