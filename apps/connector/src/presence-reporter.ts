import type { ConnectionInfo, PresenceReport, Subjects } from "@herald/protocol";
import type { NatsConnection } from "@nats-io/transport-node";

/**
 * Tells presence what this connector holds: each open and close as it happens, and the whole set on a
 * heartbeat, so presence converges even after lost reports or a NATS reconnect.
 */
export class PresenceReporter {
  private readonly connections = new Map<string, ConnectionInfo>();
  private timer: NodeJS.Timeout | undefined;
  private readonly encoder = new TextEncoder();

  constructor(
    private readonly nc: NatsConnection,
    private readonly s: Subjects,
    private readonly connectorId: string,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.heartbeat();
    this.timer = setInterval(() => this.heartbeat(), this.intervalMs);
    this.timer.unref();
  }

  opened(connection: ConnectionInfo): void {
    this.connections.set(connection.connectionId, connection);
    this.publish({ type: "open", connectorId: this.connectorId, connection });
  }

  closed(connectionId: string): void {
    const connection = this.connections.get(connectionId);
    if (!connection) return;
    this.connections.delete(connectionId);
    this.publish({ type: "close", connectorId: this.connectorId, connection });
  }

  heartbeat(): void {
    this.publish({
      type: "heartbeat",
      connectorId: this.connectorId,
      connections: [...this.connections.values()],
      intervalMs: this.intervalMs,
    });
  }

  stop(): void {
    clearInterval(this.timer);
    this.publish({ type: "shutdown", connectorId: this.connectorId });
  }

  private publish(report: PresenceReport): void {
    if (this.nc.isClosed()) return;
    this.nc.publish(this.s.presenceReport(this.connectorId), this.encoder.encode(JSON.stringify(report)));
  }
}
