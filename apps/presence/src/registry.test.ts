import { type ConnectionInfo, ConnectionSetDigest } from "@herald/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Registry } from "./registry.js";

const info = (connectionId: string, userId: string, deviceId = "d", since = 1): ConnectionInfo => ({
  connectionId,
  userId,
  deviceId,
  since,
});

function recorder() {
  const transitions: string[] = [];
  const registry = new Registry((userId, online) => transitions.push(`${userId}:${online ? "on" : "off"}`));
  return { registry, transitions };
}

describe("Registry", () => {
  it("reports a user online at the first connection and offline after the last, across connectors", () => {
    const { registry, transitions } = recorder();
    registry.open("c1", info("a", "alice"));
    registry.open("c2", info("b", "alice"));
    registry.open("c2", info("c", "bob"));
    registry.close("c1", "a");
    expect(transitions).toEqual(["alice:on", "bob:on"]);
    registry.close("c2", "b");
    expect(transitions).toEqual(["alice:on", "bob:on", "alice:off"]);
    expect(registry.get("bob")).toEqual({
      userId: "bob",
      online: true,
      connections: [{ connectionId: "c", deviceId: "d", connectorId: "c2", since: 1 }],
    });
    expect(registry.get("alice")).toEqual({ userId: "alice", online: false, connections: [] });
    expect(registry.count()).toEqual({
      users: 1,
      connections: 1,
      connectors: { c1: { connections: 0 }, c2: { connections: 1 } },
    });
  });

  it("ignores repeated opens and unknown closes", () => {
    const { registry, transitions } = recorder();
    registry.open("c1", info("a", "alice"));
    registry.open("c1", info("a", "alice"));
    registry.close("c1", "zzz");
    registry.close("c9", "a");
    expect(transitions).toEqual(["alice:on"]);
    expect(registry.count().connections).toBe(1);
  });

  it("replaces a connector's set with net transitions only", () => {
    const { registry, transitions } = recorder();
    registry.open("c1", info("a", "alice"));
    registry.open("c1", info("b", "bob"));
    registry.replace("c1", [info("a2", "alice"), info("c", "carol")]);
    expect(transitions).toEqual(["alice:on", "bob:on", "carol:on", "bob:off"]);
    expect(registry.get("alice").connections.map((c) => c.connectionId)).toEqual(["a2"]);
  });

  it("removes a connector with offline only for users left without connections", () => {
    const { registry, transitions } = recorder();
    registry.open("c1", info("a", "alice"));
    registry.open("c2", info("b", "alice"));
    registry.open("c1", info("c", "bob"));
    registry.removeConnector("c1");
    expect(transitions).toEqual(["alice:on", "bob:on", "bob:off"]);
    expect(registry.count()).toEqual({ users: 1, connections: 1, connectors: { c2: { connections: 1 } } });
  });

  it("sorts connections so every replica answers the same", () => {
    const a = new Registry(() => {});
    const b = new Registry(() => {});
    const conns = [info("x", "u", "d", 3), info("y", "u", "d", 1), info("z", "u", "d", 3)];
    for (const c of conns) a.open("c1", c);
    b.replace("c1", [...conns].reverse());
    expect(JSON.stringify(a.get("u"))).toBe(JSON.stringify(b.get("u")));
  });

  it("matches a simple model under any sequence of reports", () => {
    const connector = fc.constantFrom("c1", "c2", "c3");
    const conn = fc.record({
      connectionId: fc.constantFrom("k1", "k2", "k3", "k4", "k5", "k6"),
      userId: fc.constantFrom("u1", "u2", "u3", "u4"),
      deviceId: fc.constantFrom("d1", "d2"),
      since: fc.integer({ min: 1, max: 3 }),
    });
    const op = fc.oneof(
      fc.record({ kind: fc.constant("open" as const), connector, conn }),
      fc.record({ kind: fc.constant("close" as const), connector, conn }),
      fc.record({
        kind: fc.constant("replace" as const),
        connector,
        conns: fc.array(conn, { maxLength: 5 }),
        // Fed as one list, or as a heartbeat in parts of this size.
        partSize: fc.integer({ min: 0, max: 3 }),
      }),
      fc.record({ kind: fc.constant("remove" as const), connector }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const { registry, transitions } = recorder();
        const model = new Map<string, Map<string, ConnectionInfo>>();
        const online = () => {
          const users = new Set<string>();
          for (const conns of model.values()) for (const c of conns.values()) users.add(c.userId);
          return users;
        };
        for (const o of ops) {
          const before = online();
          transitions.length = 0;
          if (o.kind === "open") {
            registry.open(o.connector, o.conn);
            model.set(o.connector, (model.get(o.connector) ?? new Map()).set(o.conn.connectionId, o.conn));
          } else if (o.kind === "close") {
            registry.close(o.connector, o.conn.connectionId);
            model.get(o.connector)?.delete(o.conn.connectionId);
          } else if (o.kind === "replace") {
            if (o.partSize === 0) registry.replace(o.connector, o.conns);
            else {
              const snapshot = registry.beginSnapshot(o.connector);
              for (let i = 0; i < o.conns.length; i += o.partSize) {
                registry.snapshotPart(snapshot, o.conns.slice(i, i + o.partSize));
              }
              registry.endSnapshot(snapshot);
            }
            model.set(o.connector, new Map(o.conns.map((c) => [c.connectionId, c])));
          } else {
            registry.removeConnector(o.connector);
            model.delete(o.connector);
          }
          const after = online();
          const expected = [
            ...[...after].filter((u) => !before.has(u)).map((u) => `${u}:on`),
            ...[...before].filter((u) => !after.has(u)).map((u) => `${u}:off`),
          ];
          expect([...transitions].sort()).toEqual(expected.sort());
        }
        let total = 0;
        for (const userId of ["u1", "u2", "u3", "u4"]) {
          const expected = [...model.entries()]
            .flatMap(([connectorId, conns]) => [...conns.values()].map((c) => ({ ...c, connectorId })))
            .filter((c) => c.userId === userId);
          total += expected.length;
          const got = registry.get(userId).connections;
          expect(
            got.map((c) => `${c.connectorId}/${c.connectionId}/${c.deviceId}/${c.since}`).sort(),
          ).toEqual(
            expected.map((c) => `${c.connectorId}/${c.connectionId}/${c.deviceId}/${c.since}`).sort(),
          );
        }
        expect(registry.count().connections).toBe(total);
        // The digest presence compares with connector beats is that of the exact set held, however reached.
        for (const c of ["c1", "c2", "c3"]) {
          const d = new ConnectionSetDigest();
          for (const info of model.get(c)?.values() ?? []) d.add(info);
          expect(registry.matchesDigest(c, d.count, d.toString())).toBe(true);
          if (d.count > 0) expect(registry.matchesDigest(c, d.count - 1, d.toString())).toBe(false);
        }
      }),
      { numRuns: 500 },
    );
  });
});
