import { randomUUID } from "node:crypto";
import {
  type ConnectionInfo,
  type PresenceReport,
  presenceSyncSchema,
  type Subjects,
} from "@herald/protocol";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";

/**
 * Connections per heartbeat part (~130 bytes each, far below NATS' 1 MiB default payload). Presence applies one
 * part per slice of its event loop and skips parts identical to the previous heartbeat's, so small parts keep
 * its queries and events from waiting behind a large heartbeat, and one change re-parses little.
 */
const HEARTBEAT_PART_SIZE = 1_000;

type ReportBody =
  | Omit<Extract<PresenceReport, { type: "open" }>, "connectorId" | "bootId" | "seq">
  | Omit<Extract<PresenceReport, { type: "close" }>, "connectorId" | "bootId" | "seq">
  | Omit<Extract<PresenceReport, { type: "heartbeat" }>, "connectorId" | "bootId" | "seq">
  | Omit<Extract<PresenceReport, { type: "shutdown" }>, "connectorId" | "bootId" | "seq">;

/**
 * Tells presence what this connector holds: each open and close as it happens, and the whole set on a
 * heartbeat (and whenever presence asks with a sync), so presence converges even after lost reports or a
 * NATS reconnect. `bootId` tells a restarted connector apart; `seq` lets presence notice a lost report.
 */
export class PresenceReporter {
  private readonly connections = new Map<string, ConnectionInfo>();
  private readonly bootId = randomUUID();
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private sync: Subscription | undefined;
  private readonly encoder = new TextEncoder();

  constructor(
    private readonly nc: NatsConnection,
    private readonly s: Subjects,
    private readonly connectorId: string,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.sync = this.nc.subscribe(this.s.presenceSync, {
      callback: (err, msg) => {
        if (err) return;
        let request: ReturnType<typeof presenceSyncSchema.safeParse>;
        try {
          request = presenceSyncSchema.safeParse(msg.json());
        } catch {
          return;
        }
        if (!request.success) return;
        if (request.data.connectorId === undefined || request.data.connectorId === this.connectorId)
          this.heartbeat();
      },
    });
    this.heartbeat();
    this.timer = setInterval(() => this.heartbeat(), this.intervalMs);
    this.timer.unref();
  }

  opened(connection: ConnectionInfo): void {
    this.connections.set(connection.connectionId, connection);
    this.publish({ type: "open", connection });
  }

  closed(connectionId: string): void {
    const connection = this.connections.get(connectionId);
    if (!connection) return;
    this.connections.delete(connectionId);
    this.publish({ type: "close", connection });
  }

  heartbeat(): void {
    const all = [...this.connections.values()];
    const parts = Math.max(1, Math.ceil(all.length / HEARTBEAT_PART_SIZE));
    for (let part = 0; part < parts; part++) {
      const connections = all.slice(part * HEARTBEAT_PART_SIZE, (part + 1) * HEARTBEAT_PART_SIZE);
      this.publish({
        type: "heartbeat",
        connections,
        intervalMs: this.intervalMs,
        ...(parts > 1 ? { part, parts } : {}),
      });
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.sync?.unsubscribe();
    this.publish({ type: "shutdown" });
  }

  private publish(body: ReportBody): void {
    if (this.nc.isClosed()) return;
    const report = {
      ...body,
      connectorId: this.connectorId,
      bootId: this.bootId,
      seq: this.seq++,
    } as PresenceReport;
    this.nc.publish(this.s.presenceReport(this.connectorId), this.encoder.encode(JSON.stringify(report)));
  }
}
