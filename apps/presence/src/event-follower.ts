import type { PresenceEvent } from "@herald/protocol";
import type { Msg } from "@nats-io/transport-node";
import type { EventGate } from "./event-gate.js";

/** Follows the events any emitter publishes, so a replica that takes over knows what was announced. */
export function followEvent(gate: EventGate, msg: Msg): void {
  let event: Partial<PresenceEvent>;
  try {
    event = msg.json();
  } catch {
    return;
  }
  if ((event.type === "online" || event.type === "offline") && typeof event.userId === "string") {
    gate.observe(event as PresenceEvent);
  }
}
