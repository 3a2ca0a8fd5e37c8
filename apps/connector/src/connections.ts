import { CloseCode } from "@herald/protocol";
import type { Connection } from "./connection.js";
import { PacedSweep } from "./paced-sweep.js";

/** How long a drain waits for clients to close before cutting them off. */
const DRAIN_TIMEOUT_MS = 5_000;
const DRAIN_POLL_MS = 50;

/** A keep-alive visit: the socket is ended when nothing arrived on it since the previous ping. */
function pingOrEnd(c: Connection): void {
  if (!c.transport.keepAlive()) c.transport.terminate();
}

/** The connections open on this connector, and what the connector does to all of them at once. */
export class Connections implements Iterable<Connection> {
  private readonly open = new Set<Connection>();
  private readonly byId = new Map<string, Connection>();

  get size(): number {
    return this.open.size;
  }

  [Symbol.iterator](): Iterator<Connection> {
    return this.open.values();
  }

  /** Holds `connection` until its socket closes. */
  add(connection: Connection): void {
    this.open.add(connection);
    this.byId.set(connection.connectionId, connection);
    connection.onceClosed(this.forget);
  }

  /** One listener for every connection's close. */
  private readonly forget = (connection: Connection): void => {
    this.open.delete(connection);
    this.byId.delete(connection.connectionId);
  };

  /** Closes the connections whose token has expired (4003); one sweep instead of a timer per connection. */
  expireAll(now = Date.now()): void {
    for (const c of this.open) c.expireIfDue(now);
  }

  /** The open connection with this id. */
  get(connectionId: string): Connection | undefined {
    return this.byId.get(connectionId);
  }

  /** Sends a frame to every authenticated connection; returns how many connections are open. */
  sendToAll(frame: string | Buffer): number {
    for (const c of this.open) if (c.identity) c.send(frame);
    return this.open.size;
  }

  /**
   * Pings every connection once per `periodMs`, a slice of them each `tickMs` (the caller ticks it), and ends
   * those from which nothing arrived since their previous ping.
   */
  pinger(periodMs: number, tickMs: number): PacedSweep<Connection> {
    return new PacedSweep(this.open, periodMs, tickMs, pingOrEnd);
  }

  /** Sends again what each session has waited too long to see acked. */
  resendAll(now = Date.now()): void {
    for (const c of this.open) c.session?.resendOverdue(now);
  }

  /** Catches every session and subscription up (live messages may have been missed). */
  resyncAll(): void {
    for (const c of this.open) {
      c.session?.resync();
      c.channels?.resync();
    }
  }

  /** Tells every client to go elsewhere (1001), waits a while for them to close, then cuts off the rest. */
  async drain(): Promise<void> {
    for (const c of this.open) c.close(CloseCode.GoingAway, "server shutting down; reconnect");
    const deadline = Date.now() + DRAIN_TIMEOUT_MS;
    while (this.open.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
    }
    for (const c of this.open) c.transport.terminate();
  }
}
