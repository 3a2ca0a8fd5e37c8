import type { ConnectionInfo, DisconnectCommand } from "@herald/protocol";
import { describe, expect, it } from "vitest";
import { ConnectionLimit, type LimitPolicy } from "./connection-limit.js";
import { Registry } from "./registry.js";

const info = (connectionId: string, userId: string, since: number): ConnectionInfo => ({
  connectionId,
  userId,
  deviceId: `d-${connectionId}`,
  since,
});

function setup(max: number, policy: LimitPolicy) {
  let clock = 0;
  const registry = new Registry(() => {});
  const limit = new ConnectionLimit(registry, { max, policy, now: () => clock, forgetAfterMs: 1000 });
  const open = (connectorId: string, connection: ConnectionInfo): DisconnectCommand[] => {
    registry.open(connectorId, connection);
    return limit.check(connectorId, connection);
  };
  return { registry, limit, open, advance: (ms: number) => (clock += ms) };
}

describe("ConnectionLimit", () => {
  it("does nothing when unlimited (0)", () => {
    const { open, limit } = setup(0, "close-oldest");
    for (let i = 0; i < 10; i++) expect(open("c1", info(`x${i}`, "alice", i))).toEqual([]);
    expect(limit.enabled).toBe(false);
  });

  it("close-oldest: the oldest connection across connectors gets 4012", () => {
    const { open } = setup(2, "close-oldest");
    expect(open("c2", info("b", "alice", 20))).toEqual([]);
    expect(open("c1", info("a", "alice", 10))).toEqual([]);
    expect(open("c3", info("other", "bob", 5))).toEqual([]);
    const commands = open("c3", info("c", "alice", 30));
    expect(commands).toEqual([
      {
        userId: "alice",
        connectionId: "a",
        code: 4012,
        reason: "connection limit: at most 2 per user; the oldest is closed",
      },
    ]);
  });

  it("refuse-newest: the connection that just opened gets 4012, even with an older clock", () => {
    const { open } = setup(1, "refuse-newest");
    open("c1", info("a", "alice", 10));
    expect(open("c2", info("b", "alice", 5)).map((c) => c.connectionId)).toEqual(["b"]);
  });

  it("a burst of opens picks each victim once; a connection counts again once forgotten", () => {
    const { open, registry, limit, advance } = setup(1, "close-oldest");
    open("c1", info("a", "alice", 1));
    expect(open("c1", info("b", "alice", 2)).map((c) => c.connectionId)).toEqual(["a"]);
    // The close of `a` has not arrived yet: the next open must pick `b`, not `a` again.
    expect(open("c1", info("c", "alice", 3)).map((c) => c.connectionId)).toEqual(["b"]);
    registry.close("c1", "a");
    limit.sweep();
    expect(limit.pendingCount).toBe(1);
    // `b` never closed (the command was lost): after forgetAfterMs it is commanded again.
    advance(1001);
    limit.sweep();
    expect(limit.pendingCount).toBe(0);
    expect(open("c1", info("d", "alice", 4)).map((c) => c.connectionId)).toEqual(["b", "c"]);
  });
});
