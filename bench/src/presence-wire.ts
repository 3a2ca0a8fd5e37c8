import type { Subjects } from "@herald/protocol";
import type { NatsConnection } from "@nats-io/transport-node";
import { sleep } from "./clock.js";
import type { ChurnResult } from "./presence-connectors-worker.js";
import type { WirePhase } from "./presence-report.js";
import type { startWorker } from "./worker.js";

type Worker = ReturnType<typeof startWorker>;

/** Beat intervals counted per phase. */
export const WIRE_BEATS = 2;

/** The smaller size measured (the larger is the run's `--connections`). */
export const WIRE_SMALL_SIZE = 10_000;

const BEAT = new TextEncoder().encode('{"type":"beat"');
const HEARTBEAT = new TextEncoder().encode('{"type":"heartbeat"');
const PARTS = /"parts":(\d+),/;
const decoder = new TextDecoder();

const startsWith = (data: Uint8Array, prefix: Uint8Array) => prefix.every((byte, i) => data[i] === byte);

/** What went to presence during one phase: report and sync bytes, and the connectors' periodic reports. */
class WireCounter {
  bytes = 0;
  messages = 0;
  /**
   * Periodic reports seen, one per connector per interval: beats, or full heartbeats counted 1/parts per part
   * (so a heartbeat cut by the window's edge counts as much as its bytes do).
   */
  rounds = 0;
  private counting = false;

  constructor(private readonly roundsOf: "beat" | "heartbeat") {}

  begin(): void {
    this.counting = true;
  }

  end(): void {
    this.counting = false;
  }

  add(data: Uint8Array, subject: string): void {
    if (!this.counting) return;
    // As on the wire: payload and subject (the protocol line's other few bytes are left out).
    this.bytes += data.length + subject.length;
    this.messages++;
    if (this.roundsOf === "beat") {
      if (startsWith(data, BEAT)) this.rounds++;
    } else if (startsWith(data, HEARTBEAT)) {
      const parts = PARTS.exec(decoder.decode(data.subarray(Math.max(0, data.length - 300))));
      this.rounds += 1 / Number(parts?.[1] ?? 1);
    }
  }
}

export type WireDeps = {
  nc: NatsConnection;
  s: Subjects;
  workers: Worker[];
  heartbeatMs: number;
  /** Intervals counted per phase. */
  beats: number;
};

/**
 * Bytes sent to presence per beat interval (all connectors together) with `changes` opens+closes per
 * interval: `beats` intervals counted, divided by the connectors' periodic reports seen (so a phase that
 * catches one beat more or less is still right). Returns the phase and the connections its churn left open.
 */
async function phase(
  deps: WireDeps,
  mode: WirePhase["mode"],
  changes: number,
  tag: string,
): Promise<{ phase: Omit<WirePhase, "connections">; leftOpen: number }> {
  const { nc, s, workers, heartbeatMs, beats } = deps;
  const counter = new WireCounter(mode === "beats" ? "beat" : "heartbeat");
  const reports = nc.subscribe(s.presenceReportAll, {
    callback: (_e, msg) => counter.add(msg.data, msg.subject),
  });
  const syncs = nc.subscribe(s.presenceSync, { callback: (_e, msg) => counter.add(msg.data, msg.subject) });
  await nc.flush();
  counter.begin();
  const seconds = (beats * heartbeatMs) / 1000;
  let churned: ChurnResult[] = [];
  if (changes === 0) await sleep(seconds * 1000);
  else
    churned = await Promise.all(
      workers.map((w, k) =>
        w.call<ChurnResult>("churn", {
          opsPerSecond: changes / (heartbeatMs / 1000) / workers.length,
          seconds,
          minAgeMs: 0,
          userPrefix: `wire-${tag}-${k}-`,
        }),
      ),
    );
  // What the last publishes still have on the way.
  await nc.flush();
  await sleep(50);
  counter.end();
  reports.unsubscribe();
  syncs.unsubscribe();
  const perConnector = counter.rounds / workers.length;
  const leftOpen = churned.reduce((n, r) => n + r.opens - r.closes, 0);
  const achieved = churned.reduce((n, r) => n + r.opens + r.closes, 0);
  return {
    phase: {
      mode,
      changesPerBeat: changes,
      achievedChangesPerBeat: perConnector > 0 ? Math.round(achieved / perConnector) : 0,
      bytesPerBeat: perConnector > 0 ? Math.round(counter.bytes / perConnector) : 0,
      messagesPerBeat: perConnector > 0 ? Math.round((counter.messages / perConnector) * 10) / 10 : 0,
      beatsCounted: Math.round(counter.rounds * 10) / 10,
    },
    leftOpen,
  };
}

/**
 * Presence's traffic per beat at the current size: first this release's beats with 0, 10 and 1,000 changes
 * per beat; then, after a sync request as a presence of the previous release sends it (no `beats`), the
 * connectors' full heartbeats every interval, i.e. what every beat cost before. Waits until the connectors
 * are back to beats (`legacyHoldMs` after that sync) before returning.
 */
export async function measureWire(
  deps: WireDeps,
  connections: number,
  legacyHoldMs: number,
): Promise<{ phases: WirePhase[]; leftOpen: number }> {
  const phases: WirePhase[] = [];
  let leftOpen = 0;
  for (const mode of ["beats", "full heartbeats"] as const) {
    const heldSince = performance.now();
    if (mode === "full heartbeats") {
      deps.nc.publish(deps.s.presenceSync, JSON.stringify({ replicaId: "bench-previous-release" }));
      // The connectors' immediate answers to that sync are not part of any interval.
      await sleep(deps.heartbeatMs / 2);
    }
    for (const changes of [0, 10, 1_000]) {
      const result = await phase(deps, mode, changes, `${connections}-${mode[0]}${changes}`);
      phases.push({ connections, ...result.phase });
      leftOpen += result.leftOpen;
    }
    if (mode === "full heartbeats") await sleep(Math.max(0, heldSince + legacyHoldMs - performance.now()));
  }
  return { phases, leftOpen };
}

/** The hold that covers the three "before" phases of `measureWire`, plus a margin. */
export function wireLegacyHoldMs(heartbeatMs: number, beats: number): number {
  return (3 * beats + 2) * heartbeatMs;
}
