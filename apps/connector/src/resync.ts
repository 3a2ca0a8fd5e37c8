import { type HandlerGuard, type Logger, runGuarded } from "@herald/service-kit";
import type { NatsConnection } from "@nats-io/transport-node";

/**
 * Live messages published while NATS was unreachable never arrive: on each reconnect, `resync` catches every
 * feed up instead. Runs until the connection closes.
 */
export async function resyncOnReconnect(
  nc: NatsConnection,
  guard: HandlerGuard,
  logger: Logger,
  resync: { connections: () => number; run: () => void },
): Promise<void> {
  for await (const status of nc.status()) {
    if (status.type !== "reconnect") continue;
    logger.info({ connections: resync.connections() }, "nats reconnected; resyncing sessions");
    runGuarded(guard, "resync", resync.run);
  }
}
