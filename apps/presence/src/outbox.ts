import {
  type DisconnectCommand,
  type PresenceEvent,
  type PresenceSync,
  type Subjects,
  userToken,
} from "@herald/protocol";
import { type HandlerGuard, type Logger, reportFailure } from "@herald/service-kit";
import type { NatsConnection } from "@nats-io/transport-node";
import type { PresenceMetrics } from "./metrics.js";

export type OutboxDeps = {
  nc: NatsConnection;
  s: Subjects;
  guard: HandlerGuard;
  metrics: PresenceMetrics;
  log: Logger;
};

/** What presence publishes: online/offline events, sync requests and connection-limit disconnects. */
export class Outbox {
  constructor(private readonly deps: OutboxDeps) {}

  event(event: PresenceEvent): void {
    let subject: string;
    try {
      subject = this.deps.s.presenceEvent(userToken(event.userId));
    } catch {
      return; // reports with an illegal user id are dropped before they reach the registry
    }
    if (this.send(subject, event)) this.deps.metrics.events.inc({ type: event.type });
  }

  disconnect(command: DisconnectCommand): void {
    if (!this.send(this.deps.s.controlDisconnect, command)) return;
    this.deps.metrics.limitDisconnects.inc();
    this.deps.log.info(command, "connection limit: disconnecting");
  }

  sync(request: PresenceSync): void {
    if (!this.deps.nc.isClosed()) this.send(this.deps.s.presenceSync, request);
  }

  /** A core publish that never throws (a closed connection, a payload too big): the failure is reported. */
  private send(subject: string, body: unknown): boolean {
    try {
      this.deps.nc.publish(subject, JSON.stringify(body));
      return true;
    } catch (err) {
      reportFailure(this.deps.guard, "publish", err);
      return false;
    }
  }
}
