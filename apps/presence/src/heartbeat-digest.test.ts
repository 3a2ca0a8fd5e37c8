import type { ConnectionInfo, PresenceReport } from "@herald/protocol";
import { describe, expect, it } from "vitest";
import { digestHeartbeat } from "./heartbeat-digest.js";
import { Registry } from "./registry.js";
import { ReportHandler } from "./report-handler.js";
import { parseReport } from "./report-parser.js";

const encoder = new TextEncoder();
const conn = (i: number, userId = `user-${i}`): ConnectionInfo => ({
  connectionId: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
  userId,
  deviceId: `device-${i}`,
  since: 1_700_000_000_000 + i,
});

/** A connector's heartbeat, serialized exactly as `PresenceReporter.publish` does (body first, then ids). */
function heartbeat(all: ConnectionInfo[], partSize: number, seq: number, bootId = "boot-1"): Uint8Array[] {
  const parts = Math.max(1, Math.ceil(all.length / partSize));
  return Array.from({ length: parts }, (_, part) => {
    const body = {
      type: "heartbeat",
      connections: all.slice(part * partSize, (part + 1) * partSize),
      intervalMs: 3000,
      ...(parts > 1 ? { part, parts } : {}),
    };
    return encoder.encode(JSON.stringify({ ...body, connectorId: "c1", bootId, seq: seq + part }));
  });
}

function setup() {
  const transitions: string[] = [];
  const registry = new Registry((userId, online) => transitions.push(`${userId}:${online ? "on" : "off"}`));
  const handler = new ReportHandler(registry, { now: () => 0, onGap: () => {}, onMismatch: () => {} });
  let fast = 0;
  /** What app.ts does with one report's bytes. */
  const apply = (data: Uint8Array) => {
    const d = digestHeartbeat(data);
    if (d && handler.handleUnchanged(d)) {
      fast++;
      return;
    }
    const report = parseReport(JSON.parse(new TextDecoder().decode(data)), () => true) as PresenceReport;
    handler.handle(report, d?.digest);
  };
  const report = (body: Record<string, unknown>, seq: number) =>
    apply(encoder.encode(JSON.stringify({ ...body, connectorId: "c1", bootId: "boot-1", seq })));
  return { registry, handler, transitions, apply, report, fast: () => fast };
}

describe("digestHeartbeat", () => {
  it("recognizes a large part as the connector writes it; the digest ignores seq only", () => {
    const all = Array.from({ length: 600 }, (_, i) => conn(i));
    const [a] = heartbeat(all, 200, 5);
    const [b] = heartbeat(all, 200, 99);
    const [c] = heartbeat(all.toReversed(), 200, 5);
    const da = digestHeartbeat(a!);
    expect(da).toMatchObject({ connectorId: "c1", bootId: "boot-1", seq: 5, part: 0, parts: 3 });
    expect(digestHeartbeat(b!)?.digest).toBe(da?.digest);
    expect(digestHeartbeat(c!)?.digest).not.toBe(da?.digest);
    expect(digestHeartbeat(heartbeat(all, 200, 5, "boot-2")[0]!)?.digest).not.toBe(da?.digest);
    // Small reports, other key orders: parsed as usual.
    expect(digestHeartbeat(heartbeat(all.slice(0, 10), 200, 1)[0]!)).toBeUndefined();
    const reordered = encoder.encode(
      JSON.stringify({ connectorId: "c1", type: "heartbeat", connections: all }),
    );
    expect(digestHeartbeat(reordered)).toBeUndefined();
  });
});

describe("unchanged heartbeat parts", () => {
  it("are applied without parsing, and give the same registry as parsing them", () => {
    const w = setup();
    const all = Array.from({ length: 1000 }, (_, i) => conn(i, `user-${i % 700}`));
    let seq = 0;
    for (const part of heartbeat(all, 250, seq)) w.apply(part);
    seq += 4;
    expect(w.registry.connectionTotal).toBe(1000);
    // Once held, a heartbeat's parts are clean and remembered...
    for (const part of heartbeat(all, 250, seq)) w.apply(part);
    seq += 4;
    expect(w.fast()).toBe(0);
    // ...so the same connections again come from their digests.
    for (const part of heartbeat(all, 250, seq)) w.apply(part);
    seq += 4;
    expect(w.fast()).toBe(4);
    // A close and an open reported in between: only the parts that differ are parsed.
    const closed = all.splice(600, 1)[0]!;
    w.report({ type: "close", connection: closed }, seq++);
    const opened = conn(5000, "newcomer");
    all.push(opened);
    w.report({ type: "open", connection: opened }, seq++);
    for (const part of heartbeat(all, 250, seq)) w.apply(part);
    seq += 4;
    expect(w.fast()).toBe(4 + 2); // parts 0 and 1 are unchanged, 2 and 3 shifted
    expect(w.registry.connectionTotal).toBe(1000);
    expect(w.registry.get("newcomer").online).toBe(true);
    expect(w.registry.get(closed.userId).connections.map((c) => c.connectionId)).not.toContain(
      closed.connectionId,
    );
    // A connection the registry lost by other means (here: closed with no report): the identical part is
    // parsed again and the heartbeat restores it.
    const lost = all[3]!;
    w.registry.close("c1", lost.connectionId);
    const before = w.fast();
    for (const part of heartbeat(all, 250, seq)) w.apply(part);
    seq += 4;
    expect(w.fast()).toBe(before + 3);
    expect(w.registry.get(lost.userId).connections.map((c) => c.connectionId)).toContain(lost.connectionId);
    // Nothing but the real transitions was reported.
    expect(w.transitions.filter((t) => t.startsWith("newcomer"))).toEqual(["newcomer:on"]);
    expect(w.transitions.filter((t) => t.endsWith(":off"))).toEqual([`${closed.userId}:off`]);
  });

  it("a lost part (seq gap) is not applied from its digest", () => {
    const w = setup();
    const all = Array.from({ length: 600 }, (_, i) => conn(i));
    for (const part of heartbeat(all, 200, 0)) w.apply(part);
    const next = heartbeat(all, 200, 10); // seq jumps from 3 to 10
    w.apply(next[0]!);
    expect(w.fast()).toBe(0);
  });
});
