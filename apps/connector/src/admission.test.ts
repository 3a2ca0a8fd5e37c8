import { ErrorCode } from "@herald/protocol";
import { describe, expect, it } from "vitest";
import { Admission, type AdmissionOptions } from "./admission.js";
import { NO_PROXY } from "./client-address.js";

function admission(overrides: Partial<AdmissionOptions> = {}) {
  const refused: string[] = [];
  let now = 0;
  const a = new Admission({
    accepting: () => true,
    maxConnectionsPerIp: 100,
    maxNewConnectionsPerSecond: 10,
    newConnectionMaxWaitMs: 300,
    proxyTrust: NO_PROXY,
    onRefused: (reason) => refused.push(reason),
    now: () => now,
    ...overrides,
  });
  return { a, refused, at: (ms: number) => (now = ms) };
}

describe("Admission", () => {
  it("admits the burst at once, queues the next in arrival order, then refuses with Retry-After", () => {
    const { a, refused, at } = admission();
    for (let i = 0; i < 10; i++) expect(a.admit("1.1.1.1")).toEqual({ admitted: true, waitMs: 0 });
    const waits = [a.admit("1.1.1.1"), a.admit("1.1.1.2"), a.admit("1.1.1.3")].map((d) =>
      d.admitted ? Math.round(d.waitMs) : -1,
    );
    expect(waits).toEqual([100, 200, 300]);
    const refusal = a.admit("1.1.1.4");
    expect(refusal).toMatchObject({
      admitted: false,
      code: ErrorCode.TooManyNewConnections,
      retryAfterSeconds: 1,
    });
    expect(refused).toEqual(["rate_limit"]);
    // Once the queue drained, new connections go straight in again.
    at(10_000);
    expect(a.admit("1.1.1.4")).toEqual({ admitted: true, waitMs: 0 });
  });

  it("refuses past the rate at once when no wait is allowed (the former behaviour)", () => {
    const { a } = admission({ maxNewConnectionsPerSecond: 2, newConnectionMaxWaitMs: 0 });
    expect([a.admit("a").admitted, a.admit("a").admitted, a.admit("a").admitted]).toEqual([
      true,
      true,
      false,
    ]);
  });

  it("says how long until a retry finds room in the queue", () => {
    const { a } = admission({ maxNewConnectionsPerSecond: 1, newConnectionMaxWaitMs: 1_000 });
    expect(a.admit("a")).toEqual({ admitted: true, waitMs: 0 });
    expect(a.admit("a")).toMatchObject({ admitted: true, waitMs: 1_000 });
    // The next free slot is 2 s away, 1 s more than a connection may wait.
    expect(a.admit("a")).toMatchObject({ admitted: false, retryAfterSeconds: 1 });
  });

  it("refuses while draining and past the per-address limit, before taking a slot of the rate", () => {
    let accepting = false;
    const { a, refused } = admission({ accepting: () => accepting, maxConnectionsPerIp: 1 });
    expect(a.admit("a")).toMatchObject({ admitted: false, code: ErrorCode.Unavailable });
    accepting = true;
    const slot = a.hold("a");
    expect(a.admit("a")).toMatchObject({ admitted: false, code: ErrorCode.TooManyConnections });
    slot.release();
    slot.release();
    expect(refused).toEqual(["ip_limit"]);
    for (let i = 0; i < 10; i++) expect(a.admit("a")).toEqual({ admitted: true, waitMs: 0 });
  });
});
