import { type DisconnectCommand, disconnectCommandSchema, ErrorCode, type Subjects } from "@herald/protocol";
import {
  type HandlerGuard,
  parseJsonRequest,
  reportFailure,
  respondJson,
  subscribeGuarded,
} from "@herald/service-kit";
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Connection } from "./connection.js";

const HANDLER = "control.disconnect";

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
 * (with a reply subject) is answered with how many this connector closed. One connection that fails to close
 * does not keep the others open, and nothing a command holds can stop the subscription.
 */
export function followControl(
  nc: NatsConnection,
  s: Subjects,
  connections: () => Iterable<Connection>,
  guard: HandlerGuard,
): Subscription {
  return subscribeGuarded(nc, s.controlDisconnect, guard, HANDLER, (msg) =>
    disconnect(nc, msg, connections, guard),
  );
}

function disconnect(
  nc: NatsConnection,
  msg: Msg,
  connections: () => Iterable<Connection>,
  guard: HandlerGuard,
): void {
  let input: unknown;
  try {
    input = parseJsonRequest(msg.data);
  } catch {
    input = undefined;
  }
  const parsed = disconnectCommandSchema.safeParse(input);
  if (!parsed.success) {
    const message = parsed.error.issues[0]?.message ?? "invalid command";
    guard.errors.inc({ handler: HANDLER, code: ErrorCode.InvalidRequest });
    respondJson(nc, msg, guard, HANDLER, { error: { code: ErrorCode.InvalidRequest, message } });
    return;
  }
  const command = parsed.data;
  const targets = matching(command, connections());
  for (const c of targets) {
    try {
      c.close(command.code, command.reason);
    } catch (err) {
      reportFailure(guard, HANDLER, err);
    }
  }
  if (targets.length > 0) guard.logger.info({ ...command, closed: targets.length }, "disconnect command");
  respondJson(nc, msg, guard, HANDLER, { closed: targets.length });
}
