import type { PresenceReport } from "@herald/protocol";
import type { Registry, Snapshot } from "./registry.js";

type Track = {
  lastSeen: number;
  bootId: string | undefined;
  /** The `seq` the next report should carry, when the connector numbers its reports. */
  nextSeq: number | undefined;
  /** A heartbeat split in parts, compared with the registry part by part until its last part. */
  partial: { next: number; snapshot: Snapshot } | undefined;
};

export type ReportHandlerOptions = {
  /** Monotonic milliseconds. */
  now: () => number;
  /** Reports from this connector were lost (a `seq` gap): ask it for a full heartbeat. */
  onGap: (connectorId: string) => void;
};

/**
 * Applies connector reports to the registry and keeps each connector's liveness: the last time anything came
 * from it, its boot id (a new one means the process restarted, so what the old one held is gone) and its
 * report numbering.
 *
 * @example
 * const handler = new ReportHandler(registry, { now: () => performance.now(), onGap: requestSync });
 * handler.handle({ type: "shutdown", connectorId: "c1" });
 */
export class ReportHandler {
  private readonly tracks = new Map<string, Track>();

  constructor(
    private readonly registry: Registry,
    private readonly options: ReportHandlerOptions,
  ) {}

  handle(report: PresenceReport): void {
    const { connectorId } = report;
    if (report.type === "shutdown") {
      this.forget(connectorId);
      return;
    }
    const track = this.track(report);
    switch (report.type) {
      case "open":
        this.registry.open(connectorId, report.connection);
        return;
      case "close":
        this.registry.close(connectorId, report.connection.connectionId);
        return;
      case "heartbeat":
        this.heartbeat(track, report);
        return;
    }
  }

  /** Forgets every connector silent for `timeoutMs`; returns their ids. */
  expire(timeoutMs: number): string[] {
    const now = this.options.now();
    const dead: string[] = [];
    for (const [id, track] of this.tracks) {
      if (now - track.lastSeen >= timeoutMs) dead.push(id);
    }
    for (const id of dead) this.forget(id);
    return dead;
  }

  /**
   * Counts every connector as just heard from. Used after this replica's own NATS outage: the silence was
   * ours, not theirs.
   */
  refreshAll(): void {
    const now = this.options.now();
    for (const track of this.tracks.values()) {
      track.lastSeen = now;
      track.nextSeq = undefined;
      track.partial = undefined;
    }
  }

  private heartbeat(track: Track, report: Extract<PresenceReport, { type: "heartbeat" }>): void {
    const parts = report.parts ?? 1;
    const part = report.part ?? 0;
    if (parts === 1) {
      track.partial = undefined;
      this.registry.replace(report.connectorId, report.connections);
      return;
    }
    if (part === 0) track.partial = { next: 0, snapshot: this.registry.beginSnapshot(report.connectorId) };
    // A part out of order means one was lost: drop the snapshot (it only marked), the next one will do.
    if (!track.partial || track.partial.next !== part) {
      track.partial = undefined;
      return;
    }
    this.registry.snapshotPart(track.partial.snapshot, report.connections);
    track.partial.next++;
    if (part === parts - 1) {
      const { snapshot } = track.partial;
      track.partial = undefined;
      this.registry.endSnapshot(snapshot);
    }
  }

  /** Liveness, restart and gap bookkeeping common to every report but `shutdown`. */
  private track(report: PresenceReport): Track {
    const { connectorId, bootId, seq } = report;
    let track = this.tracks.get(connectorId);
    if (track && bootId !== undefined && track.bootId !== undefined && bootId !== track.bootId) {
      // The connector restarted under the same id: every connection of the old process is gone.
      this.registry.removeConnector(connectorId);
      track = undefined;
    }
    if (!track) {
      track = { lastSeen: 0, bootId, nextSeq: undefined, partial: undefined };
      this.tracks.set(connectorId, track);
      this.registry.touchConnector(connectorId);
    }
    track.lastSeen = this.options.now();
    track.bootId = bootId ?? track.bootId;
    if (seq !== undefined) {
      if (track.nextSeq !== undefined && seq !== track.nextSeq) {
        track.partial = undefined;
        this.options.onGap(connectorId);
      }
      track.nextSeq = seq + 1;
    }
    return track;
  }

  private forget(connectorId: string): void {
    this.tracks.delete(connectorId);
    this.registry.removeConnector(connectorId);
  }
}
