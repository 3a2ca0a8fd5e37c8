/**
 * Event-loop time presence spends on connector heartbeats: 4 connectors × 25,000 connections, heartbeats
 * serialized exactly as `PresenceReporter` does (parts of 1,000), 250 opens + 250 closes per connector
 * between rounds. `tail` churn closes recent connections (the usual case: most connections are long-lived),
 * `random` closes any connection (every part after the first close shifts: the worst case for digests).
 *
 * Run after `pnpm build` (Node strips the types): `node apps/presence/src/test/measure-heartbeat.ts
 * [tail|random] [dir with registry.js, report-handler.js, report-parser.js to compare, e.g. an older build]`
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { ConnectionInfo, PresenceReport } from "@herald/protocol";

const mode = process.argv[2] === "random" ? "random" : "tail";
// Measures the build, not the sources: what ships.
const dir = process.argv[3] ?? new URL("../../dist", import.meta.url).pathname;
const { Registry } = await import(`${dir}/registry.js`);
const { ReportHandler } = await import(`${dir}/report-handler.js`);
const { parseReport } = await import(`${dir}/report-parser.js`);
const digestModule = await import(`${dir}/heartbeat-digest.js`).catch(() => undefined);
const digestHeartbeat: ((data: Uint8Array) => { digest: string } | undefined) | undefined =
  digestModule?.digestHeartbeat;

const CONNECTORS = 4;
const PER_CONNECTOR = 25_000;
const PART = 1_000; // as apps/connector/src/presence-reporter.ts
const CHURN = 250;
const ROUNDS = 12;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const registry = new Registry(() => {});
const handler = new ReportHandler(registry, {
  now: () => performance.now(),
  onGap: () => {},
  onMismatch: () => {},
});
const apply = (data: Uint8Array) => {
  const d = digestHeartbeat?.(data);
  if (d && handler.handleUnchanged(d)) return;
  const report = parseReport(JSON.parse(decoder.decode(data)), () => true) as PresenceReport;
  handler.handle(report, d?.digest);
};

let n = 0;
const connection = (): ConnectionInfo => ({
  connectionId: randomUUID(),
  userId: `user-${n++}`,
  deviceId: `device-${randomBytes(6).toString("hex")}`,
  since: Date.now(),
});
const connectors = Array.from({ length: CONNECTORS }, (_, i) => ({
  id: `connector-${i}`,
  seq: 0,
  held: new Map<string, ConnectionInfo>(),
}));
const report = (c: (typeof connectors)[number], body: Record<string, unknown>) =>
  encoder.encode(JSON.stringify({ ...body, connectorId: c.id, bootId: "boot", seq: c.seq++ }));
for (const c of connectors) {
  for (let i = 0; i < PER_CONNECTOR; i++) {
    const info = connection();
    c.held.set(info.connectionId, info);
    apply(report(c, { type: "open", connection: info }));
  }
}

const perHeartbeat: number[] = [];
let maxPart = 0;
for (let round = 0; round < ROUNDS; round++) {
  for (const c of connectors) {
    const ids = [...c.held.keys()];
    for (let i = 0; i < CHURN; i++) {
      const id = mode === "tail" ? ids[ids.length - 1 - i] : ids[Math.floor(Math.random() * ids.length)];
      const info = id === undefined ? undefined : c.held.get(id);
      if (info) {
        c.held.delete(info.connectionId);
        apply(report(c, { type: "close", connection: info }));
      }
      const opened = connection();
      c.held.set(opened.connectionId, opened);
      apply(report(c, { type: "open", connection: opened }));
    }
  }
  // Serialized before timing, as they arrive: bytes.
  const rounds = connectors.map((c) => {
    const all = [...c.held.values()];
    const parts = Math.ceil(all.length / PART);
    return Array.from({ length: parts }, (_, part) =>
      report(c, {
        type: "heartbeat",
        connections: all.slice(part * PART, (part + 1) * PART),
        intervalMs: 3000,
        part,
        parts,
      }),
    );
  });
  for (const parts of rounds) {
    const started = performance.now();
    for (const data of parts) {
      const t = performance.now();
      apply(data);
      maxPart = Math.max(maxPart, performance.now() - t);
    }
    if (round >= 2) perHeartbeat.push(performance.now() - started);
  }
}
const sorted = perHeartbeat.sort((a, b) => a - b);
const round2 = (v: number) => Math.round(v * 100) / 100;
console.log(
  JSON.stringify({
    code: dir,
    churn: mode,
    connections: registry.connectionTotal,
    msPerHeartbeatOf25k: {
      median: round2(sorted[Math.floor(sorted.length / 2)] ?? 0),
      max: round2(sorted.at(-1) ?? 0),
    },
    maxMsPerPart: round2(maxPart),
  }),
);
