import { randomUUID } from "node:crypto";
import {
  type ConnectionInfo,
  type PresenceReport,
  payloadBudget,
  presenceSyncSchema,
  type Subjects,
  utf8ByteLength,
} from "@herald/protocol";
import {
  type HandlerGuard,
  maxPayload,
  parseJsonRequest,
  reportFailure,
  subscribeGuarded,
} from "@herald/service-kit";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";

/**
 * Most connections per heartbeat part. Presence applies one part per slice of its event loop and skips parts
 * identical to the previous heartbeat's, so small parts keep its queries and events from waiting behind a large
 * heartbeat, and one change re-parses little. Parts are also cut by bytes, below NATS' `max_payload`: long
 * non-ASCII ids make an entry up to ~1.1 kB.
 */
const HEARTBEAT_PART_SIZE = 1_000;

type ReportBody =
  | Omit<Extract<PresenceReport, { type: "open" }>, "connectorId" | "bootId" | "seq">
  | Omit<Extract<PresenceReport, { type: "close" }>, "connectorId" | "bootId" | "seq">
  | Omit<Extract<PresenceReport, { type: "heartbeat" }>, "connectorId" | "bootId" | "seq">
  | Omit<Extract<PresenceReport, { type: "shutdown" }>, "connectorId" | "bootId" | "seq">;

/** A connection as reported, with the bytes it takes in a heartbeat's JSON (measured once, at open). */
type Held = { info: ConnectionInfo; bytes: number };

/**
 * Splits `items` in order into parts of at most `maxCount` items whose sizes (plus a separator each) add up to
 * at most `maxBytes`; an item larger than that alone gets a part of its own. Always at least one part.
 *
 * @example
 * splitBySize([5, 5, 5], (n) => n, 12, 10) // [[5, 5], [5]]
 */
export function splitBySize<T>(
  items: readonly T[],
  sizeOf: (item: T) => number,
  maxBytes: number,
  maxCount: number,
): T[][] {
  const parts: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item) + 1;
    if (current.length > 0 && (current.length >= maxCount || bytes + size > maxBytes)) {
      parts.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  parts.push(current);
  return parts;
}

/**
 * Tells presence what this connector holds: each open and close as it happens, and the whole set on a
 * heartbeat (and whenever presence asks with a sync), so presence converges even after lost reports or a
 * NATS reconnect. `bootId` tells a restarted connector apart; `seq` lets presence notice a lost report.
 */
export class PresenceReporter {
  private readonly connections = new Map<string, Held>();
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
    private readonly guard: HandlerGuard,
  ) {}

  start(): void {
    this.sync = subscribeGuarded(this.nc, this.s.presenceSync, this.guard, "presence.sync", (msg) => {
      let request: ReturnType<typeof presenceSyncSchema.safeParse>;
      try {
        request = presenceSyncSchema.safeParse(parseJsonRequest(msg.data));
      } catch {
        return;
      }
      if (!request.success) return;
      if (request.data.connectorId === undefined || request.data.connectorId === this.connectorId)
        this.heartbeat();
    });
    this.heartbeat();
    this.timer = setInterval(() => this.heartbeat(), this.intervalMs);
    this.timer.unref();
  }

  opened(connection: ConnectionInfo): void {
    this.connections.set(connection.connectionId, {
      info: connection,
      bytes: utf8ByteLength(JSON.stringify(connection)),
    });
    this.publish({ type: "open", connection });
  }

  closed(connectionId: string): void {
    const held = this.connections.get(connectionId);
    if (!held) return;
    this.connections.delete(connectionId);
    this.publish({ type: "close", connection: held.info });
  }

  heartbeat(): void {
    const budget = payloadBudget(maxPayload(this.nc));
    const parts = splitBySize([...this.connections.values()], (h) => h.bytes, budget, HEARTBEAT_PART_SIZE);
    for (const [part, held] of parts.entries()) {
      this.publish({
        type: "heartbeat",
        connections: held.map((h) => h.info),
        intervalMs: this.intervalMs,
        ...(parts.length > 1 ? { part, parts: parts.length } : {}),
      });
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.sync?.unsubscribe();
    this.publish({ type: "shutdown" });
  }

  /** Never throws: a report that cannot go (closed connection, too big) is logged, and the next heartbeat repairs. */
  private publish(body: ReportBody): void {
    if (this.nc.isClosed()) return;
    const report = {
      ...body,
      connectorId: this.connectorId,
      bootId: this.bootId,
      seq: this.seq++,
    } as PresenceReport;
    try {
      this.nc.publish(this.s.presenceReport(this.connectorId), this.encoder.encode(JSON.stringify(report)));
    } catch (err) {
      reportFailure(this.guard, "presence.report", err);
    }
  }
}
