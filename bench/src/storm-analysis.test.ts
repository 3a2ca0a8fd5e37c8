import { describe, expect, it } from "vitest";
import { analyseStorm, type StormPublished, stormCpu } from "./storm-analysis.js";

function published(users: number, pubUs: number[], acked = pubUs.map(() => 1)): StormPublished {
  return { users, pubUs: Float64Array.from(pubUs), acked: Uint8Array.from(acked) };
}

describe("analyseStorm", () => {
  it("times each client's reconnect and the delivery of what was published before it", () => {
    // Kill at 1,000 µs. User 0 gets seq 0 and 2, user 1 gets seq 1 and 3.
    const p = published(2, [500, 900, 1_500, 5_000]);
    const result = analyseStorm(1_000, p, [
      { user: 0, connectedUs: [3_000], disconnectedUs: [1_100, 2_000], received: [0, 600, 2, 4_000] },
      { user: 1, connectedUs: [2_000], disconnectedUs: [1_300], received: [1, 950, 3, 5_100] },
    ]);
    expect(result).toMatchObject({
      reconnected: 2,
      allReconnectedMs: 2,
      allCaughtUpMs: 3,
      lost: 0,
      delivered: 4,
    });
    expect(result.attempts).toEqual({ mean: 1.5, max: 2 });
    expect(result.noticedMs.max).toBe(0.3);
    expect(result.reconnectMs.max).toBe(2);
  });

  it("counts an acked message never received as lost, and then no one is caught up", () => {
    const p = published(1, [500, 700, 800], [1, 1, 0]);
    const result = analyseStorm(1_000, p, [
      { user: 0, connectedUs: [2_000], disconnectedUs: [], received: [0, 600] },
    ]);
    expect(result).toMatchObject({ lost: 1, delivered: 1, allCaughtUpMs: null, allReconnectedMs: 1 });
  });

  it("reports no all-reconnected time while a client is still out", () => {
    const result = analyseStorm(0, published(2, []), [
      { user: 0, connectedUs: [10], disconnectedUs: [5], received: [] },
      { user: 1, connectedUs: [], disconnectedUs: [5, 8], received: [] },
    ]);
    expect(result).toMatchObject({ reconnected: 1, allReconnectedMs: null, allCaughtUpMs: null });
  });
});

describe("the storm's CPU by kind of process", () => {
  it("adds numbered processes of a kind together, skips unreadable ones and divides by the clients", () => {
    const cpu = stormCpu(
      { connector1: 1.5, connector2: 2.25, "nats-server": 0.5, clients0: Number.NaN, clients1: 1 },
      4.123,
      500,
    );
    expect(cpu).toEqual({
      windowSeconds: 4.12,
      seconds: { connector: 3.75, "nats-server": 0.5, clients: 1 },
      msPerClient: { connector: 7.5, "nats-server": 1, clients: 2 },
      busyCores: 1.27,
    });
  });
});
