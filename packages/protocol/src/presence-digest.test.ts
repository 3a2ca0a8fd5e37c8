import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ConnectionInfo } from "./internal.js";
import { ConnectionSetDigest, connectionHash } from "./presence-digest.js";

const conn = fc.record({
  connectionId: fc.string({ maxLength: 40 }),
  userId: fc.string({ unit: "grapheme", maxLength: 30 }),
  deviceId: fc.string({ maxLength: 20 }),
  since: fc.integer({ min: 0, max: 2 ** 45 }),
});

function digestOf(conns: readonly ConnectionInfo[]): ConnectionSetDigest {
  const d = new ConnectionSetDigest();
  for (const c of conns) d.add(c);
  return d;
}

describe("ConnectionSetDigest", () => {
  it("is empty as zero, and removing undoes adding", () => {
    const d = new ConnectionSetDigest();
    expect(d.toString()).toBe("0000000000000000");
    const a = { connectionId: "a", userId: "alice", deviceId: "phone", since: 1 };
    d.add(a);
    expect(d.toString()).toMatch(/^[0-9a-f]{16}$/);
    expect(d.toString()).not.toBe("0000000000000000");
    d.remove(a);
    expect(d.toString()).toBe("0000000000000000");
    expect(d.count).toBe(0);
  });

  it("does not depend on the order of opens and closes, only on the set", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(conn, { selector: (c) => c.connectionId, maxLength: 30 }),
        fc.nat(),
        (conns, k) => {
          const cut = conns.length === 0 ? 0 : k % conns.length;
          // Every connection opened, then the first `cut` closed, vs. only the rest opened.
          const d = digestOf([...conns.slice(cut), ...conns.slice(0, cut).reverse()]);
          for (const c of conns.slice(0, cut)) d.remove(c);
          const expected = digestOf(conns.slice(cut));
          expect(d.matches(expected.count, expected.toString())).toBe(true);
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it("tells apart connections that differ in any field, or only in where a field ends", () => {
    const base = { connectionId: "k1", userId: "alice", deviceId: "phone", since: 1 };
    const variants = [
      { ...base, connectionId: "k2" },
      { ...base, userId: "alicf" },
      { ...base, deviceId: "phonf" },
      { ...base, since: 2 },
      { ...base, connectionId: "k1a", userId: "lice" },
      { ...base, userId: "alicephone", deviceId: "" },
    ];
    const hashes = new Set([base, ...variants].map((c) => JSON.stringify(connectionHash(c))));
    expect(hashes.size).toBe(variants.length + 1);
  });

  it("gives no collision among 100,000 connections of one connector (64 bits: none expected)", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) {
      const h = connectionHash({
        connectionId: `conn-${i}`,
        userId: `user-${i >> 1}`,
        deviceId: "d",
        since: 1,
      });
      seen.add(`${h.hi}:${h.lo}`);
    }
    expect(seen.size).toBe(100_000);
  });

  it("changes when one connection of a large set is added, dropped or altered", () => {
    const conns = Array.from({ length: 1_000 }, (_, i) => ({
      connectionId: `c${i}`,
      userId: `u${i}`,
      deviceId: "d",
      since: i,
    }));
    const whole = digestOf(conns).toString();
    expect(digestOf(conns.slice(1)).toString()).not.toBe(whole);
    expect(digestOf([...conns.slice(1), { ...conns[0]!, since: 7 }]).toString()).not.toBe(whole);
    expect(digestOf([...conns].reverse()).toString()).toBe(whole);
  });
});
