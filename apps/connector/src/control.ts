import { type DisconnectCommand, disconnectCommandSchema, type Subjects } from "@herald/protocol";
import type { Logger } from "@herald/service-kit";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Connection } from "./connection.js";

/** Which of `connections` a disconnect command names. */
export function matching(command: DisconnectCommand, connections: Iterable<Connection>): Connection[] {
  const found: Connection[] = [];
  for (const c of connections) {
    if (!c.identity) continue;
    if (command.connectionId !== undefined && c.connectionId !== command.connectionId) continue;
    if (command.userId !== undefined && c.identity.userId !== command.userId) continue;
    if (command.deviceId !== undefined && c.identity.deviceId !== command.deviceId) continue;
    found.push(c);
  }
  return found;
}

/**
 * Follows `<p>.control.disconnect`: closes the named connections with the given code and reason. A request
 * (with a reply subject) is answered with how many this connector closed.
 */
export function followControl(
  nc: NatsConnection,
  s: Subjects,
  connections: () => Iterable<Connection>,
  logger: Logger,
): Subscription {
  const encoder = new TextEncoder();
  return nc.subscribe(s.controlDisconnect, {
    callback: (err, msg) => {
      if (err) return;
      let parsed: ReturnType<typeof disconnectCommandSchema.safeParse>;
      try {
        parsed = disconnectCommandSchema.safeParse(msg.json());
      } catch {
        parsed = disconnectCommandSchema.safeParse(undefined);
      }
      if (!parsed.success) {
        const message = parsed.error.issues[0]?.message ?? "invalid command";
        if (msg.reply)
          msg.respond(encoder.encode(JSON.stringify({ error: { code: "invalid_request", message } })));
        return;
      }
      const command = parsed.data;
      const targets = matching(command, connections());
      for (const c of targets) c.close(command.code, command.reason);
      if (targets.length > 0) logger.info({ ...command, closed: targets.length }, "disconnect command");
      if (msg.reply) msg.respond(encoder.encode(JSON.stringify({ closed: targets.length })));
    },
  });
}
