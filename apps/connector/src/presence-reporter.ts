import { randomUUID } from "node:crypto";
import {
  type ConnectionInfo,
  ConnectionSetDigest,
  LEGACY_PRESENCE_HOLD_MS,
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
 * Most connections per heartbeat part. Presence applies one part per slice of its event loop, so small parts
 * keep its queries and events from waiting behind a large heartbeat. Parts are also cut by bytes, below NATS'
 * `max_payload`: long non-ASCII ids make an entry up to ~1.1 kB.
 */
const HEARTBEAT_PART_SIZE = 1_000;

type ReportBody =
  | Omit<Extract<PresenceReport, { type: "open" }>, "connectorId" | "bootId" | "seq">
  | Omit<Extract<PresenceReport, { type: "close" }>, "connectorId" | "bootId" | "seq">
  | Omit<Extract<PresenceReport, { type: "beat" }>, "connectorId" | "bootId" | "seq">
  | Omit<Extract<PresenceReport, { type: "heartbeat" }>, "connectorId" | "bootId" | "seq">
  | Omit<Extract<PresenceReport, { type: "shutdown" }>, "connectorId" | "bootId" | "seq">;

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
 * Tells presence what this connector holds: each open and close as it happens, every interval a beat with a
 * digest of the whole set (O(1): the digest is kept up to date at each open and close), and the whole list
 * when presence asks with a sync (it does when a beat does not match what it holds, when it starts, or when
 * it notices a lost report), so presence converges even after lost reports or a NATS reconnect. `bootId`
 * tells a restarted connector apart; `seq` (beats included) lets presence notice a lost report.
 *
 * A sync request without `beats` comes from a presence replica of the previous release, which only counts
 * full heartbeats as liveness: for `LEGACY_PRESENCE_HOLD_MS` after one, every beat is a full heartbeat instead.
 */
export class PresenceReporter {
  /** The members as given to `opened` (a connection itself, read through its getters), copied when reported. */
  private readonly connections = new Map<string, ConnectionInfo>();
  private readonly digest = new ConnectionSetDigest();
  private readonly bootId = randomUUID();
  private seq = 0;
  /** Until when (monotonic ms) beats are full heartbeats, for presence replicas of the previous release. */
  private legacyUntil = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private sync: Subscription | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly s: Subjects,
    private readonly connectorId: string,
    private readonly intervalMs: number,
    private readonly guard: HandlerGuard,
    /** How long full heartbeats replace beats after a sync request without `beats` (the benchmark shortens it). */
    private readonly legacyHoldMs = LEGACY_PRESENCE_HOLD_MS,
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
      if (request.data.beats !== true) this.legacyUntil = performance.now() + this.legacyHoldMs;
      if (request.data.connectorId === undefined || request.data.connectorId === this.connectorId)
        this.heartbeat();
    });
    this.beat();
    this.timer = setInterval(() => this.beat(), this.intervalMs);
    this.timer.unref();
  }

  /** `connection`'s four fields must not change while it is open: the digest removes what it added. */
  opened(connection: ConnectionInfo): void {
    const replaced = this.connections.get(connection.connectionId);
    if (replaced) this.digest.remove(replaced);
    this.connections.set(connection.connectionId, connection);
    this.digest.add(connection);
    this.publish({ type: "open", connection: infoOf(connection) });
  }

  closed(connectionId: string): void {
    const held = this.connections.get(connectionId);
    if (!held) return;
    this.connections.delete(connectionId);
    this.digest.remove(held);
    this.publish({ type: "close", connection: infoOf(held) });
  }

  /** The periodic report: a beat, or a full heartbeat while a presence replica of the previous release is about. */
  beat(): void {
    if (performance.now() < this.legacyUntil) {
      this.heartbeat();
      return;
    }
    this.publish({
      type: "beat",
      intervalMs: this.intervalMs,
      count: this.digest.count,
      hash: this.digest.toString(),
    });
  }

  /**
   * The full list of connections, in parts cut by count and bytes (the answer to a sync). Sizes are measured
   * here rather than kept per connection: heartbeats are rare (a sync, or a previous release's presence about).
   */
  heartbeat(): void {
    const budget = payloadBudget(maxPayload(this.nc));
    const sizeOf = (c: ConnectionInfo) => utf8ByteLength(JSON.stringify(c));
    const all = Array.from(this.connections.values(), infoOf);
    const parts = splitBySize(all, sizeOf, budget, HEARTBEAT_PART_SIZE);
    for (const [part, connections] of parts.entries()) {
      this.publish({
        type: "heartbeat",
        connections,
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
      this.nc.publish(this.s.presenceReport(this.connectorId), JSON.stringify(report));
    } catch (err) {
      reportFailure(this.guard, "presence.report", err);
    }
  }
}

/** A report's copy of a member: the four fields alone, whatever object holds them. */
function infoOf(c: ConnectionInfo): ConnectionInfo {
  return { connectionId: c.connectionId, userId: c.userId, deviceId: c.deviceId, since: c.since };
}
