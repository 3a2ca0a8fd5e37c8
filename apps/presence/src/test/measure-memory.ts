/**
 * Heap bytes per tracked connection, as the presence service holds them (registry + event gate), for
 * realistic ids that arrive as JSON like real reports do.
 *
 * Run after `pnpm build` (Node strips the types):
 * `node --expose-gc apps/presence/src/test/measure-memory.ts [connections] [connectors]`
 */
import { randomBytes } from "node:crypto";
import type { ConnectionInfo } from "@herald/protocol";
// The build, not the sources: what ships (and what Node can load without a compiler).
import { EventGate } from "../../dist/event-gate.js";
import { Registry } from "../../dist/registry.js";

const total = Number(process.argv[2] ?? 100_000);
const connectorCount = Number(process.argv[3] ?? 4);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with node --expose-gc");

function heap(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

// Reports are built and serialized before measuring; parsing them is what allocates the stored strings.
const payloads: string[] = [];
for (let i = 0; i < total; i++) {
  const info: ConnectionInfo = {
    connectionId: randomBytes(16).toString("base64url"), // 22 chars, like a nuid
    userId: `user-${Math.floor(i / 1.5)}`, // some users on two devices
    deviceId: i % 3 === 0 ? "default" : `device-${randomBytes(6).toString("hex")}`,
    since: Date.now() - i,
  };
  payloads.push(
    JSON.stringify({ type: "open", connectorId: `connector-${i % connectorCount}`, connection: info }),
  );
}

const before = heap();
let gate: EventGate | undefined;
const registry = new Registry((userId, online) => gate?.transition(userId, online));
gate = new EventGate(
  () => {},
  (userId) => registry.isOnline(userId),
);
gate.setEnabled(true);
for (const payload of payloads) {
  const report = JSON.parse(payload) as { connectorId: string; connection: ConnectionInfo };
  registry.open(report.connectorId, report.connection);
}
// The payloads stay alive until after the measurement, so only what the registry keeps is counted.
const after = heap();
const perConnection = (after - before) / registry.connectionTotal;
console.log(
  JSON.stringify({
    connections: registry.connectionTotal,
    users: registry.userCount,
    connectors: registry.connectorCount,
    heapBytes: after - before,
    bytesPerConnection: Math.round(perConnection),
    payloadsKeptAlive: payloads.length,
  }),
);
