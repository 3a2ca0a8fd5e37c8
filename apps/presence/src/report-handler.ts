import { type ConnectionInfo, type PresenceReport, userIdProblem } from "@herald/protocol";
import type { HeartbeatDigest } from "./heartbeat-digest.js";
import type { PartMarks, Registry, Snapshot } from "./registry.js";

type Track = {
  lastSeen: number;
  bootId: string | undefined;
  /** The `seq` the next report should carry, when the connector numbers its reports. */
  nextSeq: number | undefined;
  /** A heartbeat split in parts, compared with the registry part by part until its last part. */
  partial: { next: number; snapshot: Snapshot } | undefined;
  /** Clean parts of the last heartbeats by part number: their digest and connections. */
  parts: Map<number, { digest: string; marks: PartMarks }>;
};

/** Entries presence did not hold already must carry a legal user id (open reports are checked the same). */
const legal = (info: ConnectionInfo) => userIdProblem(info.userId) === undefined;

export type ReportHandlerOptions = {
  /** Monotonic milliseconds. */
  now: () => number;
  /** Reports from this connector were lost (a `seq` gap): ask it for a full heartbeat. */
  onGap: (connectorId: string) => void;
  /** This connector's beat does not match what is held for it: ask it for a full heartbeat. */
  onMismatch: (connectorId: string) => void;
};

/**
 * Applies connector reports to the registry and keeps each connector's liveness: the last time anything came
 * from it, its boot id (a new one means the process restarted, so what the old one held is gone) and its
 * report numbering.
 *
 * @example
 * const handler = new ReportHandler(registry, { now: () => performance.now(), onGap: sync, onMismatch: sync });
 * handler.handle({ type: "shutdown", connectorId: "c1" });
 */
export class ReportHandler {
  private readonly tracks = new Map<string, Track>();

  constructor(
    private readonly registry: Registry,
    private readonly options: ReportHandlerOptions,
  ) {}

  /**
   * Applies a heartbeat part from its digest alone when it is byte for byte the same as a clean part of an
   * earlier heartbeat and every connection it listed is still held; returns false (having changed nothing)
   * when the report must be parsed and handled in full.
   */
  handleUnchanged(d: HeartbeatDigest): boolean {
    const track = this.tracks.get(d.connectorId);
    if (!track || track.bootId !== d.bootId) return false;
    if (track.nextSeq !== undefined && d.seq !== track.nextSeq) return false;
    const cached = track.parts.get(d.part);
    if (cached?.digest !== d.digest) return false;
    if (d.parts > 1 && d.part > 0 && track.partial?.next !== d.part) return false;
    if (!this.registry.holdsPart(cached.marks)) return false;
    this.track({ connectorId: d.connectorId, bootId: d.bootId, seq: d.seq });
    if (d.part === 0) track.partial = { next: 0, snapshot: this.registry.beginSnapshot(d.connectorId) };
    const partial = track.partial!;
    this.registry.markPart(partial.snapshot, cached.marks);
    this.nextPart(track, partial, d.part, d.parts);
    return true;
  }

  /** `digest`: of this report's bytes when it is a heartbeat part (`digestHeartbeat`), to remember it. */
  handle(report: PresenceReport, digest?: string): void {
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
      case "beat":
        // Reports arrive in order, so the connector's digest at the beat is that of every report before it.
        if (!this.registry.matchesDigest(connectorId, report.count, report.hash))
          this.options.onMismatch(connectorId);
        return;
      case "heartbeat":
        this.heartbeat(track, report, digest);
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

  private heartbeat(
    track: Track,
    report: Extract<PresenceReport, { type: "heartbeat" }>,
    digest: string | undefined,
  ): void {
    const parts = report.parts ?? 1;
    const part = report.part ?? 0;
    if (part === 0) track.partial = { next: 0, snapshot: this.registry.beginSnapshot(report.connectorId) };
    // A part out of order means one was lost: drop the snapshot (it only marked), the next one will do.
    if (!track.partial || track.partial.next !== part || part >= parts) {
      track.partial = undefined;
      return;
    }
    const marks = this.registry.snapshotPart(
      track.partial.snapshot,
      report.connections,
      digest !== undefined,
    );
    if (digest !== undefined && marks) track.parts.set(part, { digest, marks });
    else track.parts.delete(part);
    this.nextPart(track, track.partial, part, parts);
  }

  private nextPart(track: Track, partial: { next: number; snapshot: Snapshot }, part: number, parts: number) {
    partial.next++;
    if (part < parts - 1) return;
    track.partial = undefined;
    this.registry.endSnapshot(partial.snapshot, legal);
    // Parts past the current count belong to a larger heartbeat of the past.
    for (const n of track.parts.keys()) if (n >= parts) track.parts.delete(n);
  }

  /** Liveness, restart and gap bookkeeping common to every report but `shutdown`. */
  private track(report: Pick<PresenceReport, "connectorId" | "bootId" | "seq">): Track {
    const { connectorId, bootId, seq } = report;
    let track = this.tracks.get(connectorId);
    if (track && bootId !== undefined && track.bootId !== undefined && bootId !== track.bootId) {
      // The connector restarted under the same id: every connection of the old process is gone.
      this.registry.removeConnector(connectorId);
      track = undefined;
    }
    if (!track) {
      track = { lastSeen: 0, bootId, nextSeq: undefined, partial: undefined, parts: new Map() };
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
