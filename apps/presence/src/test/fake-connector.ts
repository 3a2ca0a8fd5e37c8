import {
  type ConnectionInfo,
  ConnectionSetDigest,
  type PresenceEvent,
  type PresenceReport,
  presenceSyncSchema,
  type Subjects,
} from "@herald/protocol";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";

const encoder = new TextEncoder();
type ReportBody = PresenceReport extends infer R
  ? R extends unknown
    ? Omit<R, "connectorId">
    : never
  : never;

/**
 * Plays a connector on the real wire protocol: publishes open/close/heartbeat/shutdown reports and answers
 * `<p>.presence.sync` with a full heartbeat, like the real connector does.
 */
export class FakeConnector {
  readonly connections = new Map<string, ConnectionInfo>();
  private seq = 0;
  private next = 0;
  private readonly syncSub: Subscription;
  /** Set to false to play a connector that ignores sync requests. */
  answerSync = true;
  syncRequests = 0;
  /** Sync requests that said the replica understands beats. */
  beatSyncRequests = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly s: Subjects,
    readonly id: string,
    public bootId: string | undefined = `${id}-boot1`,
  ) {
    this.syncSub = nc.subscribe(s.presenceSync, {
      callback: (_err, msg) => {
        const request = presenceSyncSchema.safeParse(msg.json());
        if (!request.success) return;
        if (request.data.connectorId !== undefined && request.data.connectorId !== this.id) return;
        this.syncRequests++;
        if (request.data.beats === true) this.beatSyncRequests++;
        if (this.answerSync) this.heartbeat();
      },
    });
  }

  open(userId: string, deviceId = "default"): ConnectionInfo {
    const info = { connectionId: `${this.id}-c${this.next++}`, userId, deviceId, since: Date.now() };
    this.connections.set(info.connectionId, info);
    this.report({ type: "open", connection: info });
    return info;
  }

  close(connectionId: string): void {
    const info = this.connections.get(connectionId);
    if (!info) throw new Error(`no connection ${connectionId}`);
    this.connections.delete(connectionId);
    this.report({ type: "close", connection: info });
  }

  /** Every connection of `userId` on this connector. */
  closeUser(userId: string): void {
    for (const info of [...this.connections.values()])
      if (info.userId === userId) this.close(info.connectionId);
  }

  heartbeat(partSize = Number.POSITIVE_INFINITY): void {
    const all = [...this.connections.values()];
    const parts = Math.max(1, Math.ceil(all.length / partSize));
    for (let part = 0; part < parts; part++) {
      const connections = parts === 1 ? all : all.slice(part * partSize, (part + 1) * partSize);
      this.report(
        parts === 1
          ? { type: "heartbeat", connections, intervalMs: 3000 }
          : { type: "heartbeat", connections, intervalMs: 3000, part, parts },
      );
    }
  }

  /** A beat of this release: the digest of `connections` (which a test may change without reporting). */
  beat(): void {
    const digest = new ConnectionSetDigest();
    for (const info of this.connections.values()) digest.add(info);
    this.report({ type: "beat", intervalMs: 3000, count: digest.count, hash: digest.toString() });
  }

  shutdown(): void {
    this.report({ type: "shutdown" });
  }

  /** Skips a report number, as if one core message had been lost. */
  loseOne(): void {
    this.seq++;
  }

  report(body: ReportBody): void {
    const report = {
      ...body,
      connectorId: this.id,
      ...(this.bootId ? { bootId: this.bootId, seq: this.seq++ } : {}),
    };
    this.nc.publish(this.s.presenceReport(this.id), encoder.encode(JSON.stringify(report)));
  }

  stop(): void {
    this.syncSub.unsubscribe();
  }
}

/** Records every presence event, in arrival order. */
export class EventLog {
  readonly events: PresenceEvent[] = [];
  private readonly sub: Subscription;

  constructor(nc: NatsConnection, s: Subjects) {
    this.sub = nc.subscribe(s.presenceEventAll, {
      callback: (_err, msg) => {
        this.events.push(msg.json<PresenceEvent>());
      },
    });
  }

  of(userId: string): string[] {
    return this.events.filter((e) => e.userId === userId).map((e) => e.type);
  }

  stop(): void {
    this.sub.unsubscribe();
  }
}
