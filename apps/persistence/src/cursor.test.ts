import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { advance, applyAcks, emptyCursor, skipVanished } from "./cursor.js";

describe("applyAcks", () => {
  it("advances over in-order acks", () => {
    const state = applyAcks(
      emptyCursor(),
      [
        { seq: 3, prev: 0 },
        { seq: 9, prev: 3 },
      ],
      1,
    );
    expect(state).toEqual({ floor: 9, above: [], updatedAt: 1 });
  });

  it("keeps out-of-order acks above the floor until the gap closes", () => {
    const first = applyAcks(emptyCursor(), [{ seq: 9, prev: 3 }], 1);
    expect(first.floor).toBe(0);
    expect(first.above).toEqual([[9, 3]]);
    const second = applyAcks(first, [{ seq: 3, prev: 0 }], 2);
    expect(second).toEqual({ floor: 9, above: [], updatedAt: 2 });
  });

  it("ignores acks at or below the floor", () => {
    const state = applyAcks({ floor: 10, above: [], updatedAt: 0 }, [{ seq: 4, prev: 2 }], 1);
    expect(state).toEqual({ floor: 10, above: [], updatedAt: 1 });
  });

  it("reaches the last seq whatever order a full chain is acked in", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 10_000 }), { minLength: 1, maxLength: 60 }),
        fc.context(),
        (raw, ctx) => {
          const seqs = [...raw].sort((a, b) => a - b);
          const chain = seqs.map((seq, i) => ({ seq, prev: i === 0 ? 0 : seqs[i - 1]! }));
          const shuffled = [...chain].sort(() => Math.random() - 0.5);
          ctx.log(JSON.stringify(shuffled));
          let state = emptyCursor();
          for (const ack of shuffled) state = applyAcks(state, [ack], 0);
          expect(state.floor).toBe(seqs[seqs.length - 1]);
          expect(state.above).toEqual([]);
        },
      ),
    );
  });

  it("never passes an unacked message of the chain", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 1_000 }), { minLength: 2, maxLength: 40 }),
        fc.nat(),
        (raw, pick) => {
          const seqs = [...raw].sort((a, b) => a - b);
          const chain = seqs.map((seq, i) => ({ seq, prev: i === 0 ? 0 : seqs[i - 1]! }));
          const missing = chain[pick % chain.length]!;
          const state = applyAcks(
            emptyCursor(),
            chain.filter((ack) => ack !== missing),
            0,
          );
          expect(state.floor).toBeLessThan(missing.seq);
        },
      ),
    );
  });
});

describe("advance", () => {
  it("drops stale entries below the floor", () => {
    expect(
      advance({
        floor: 5,
        above: [
          [2, 1],
          [7, 5],
        ],
        updatedAt: 0,
      }),
    ).toEqual({ floor: 7, above: [], updatedAt: 0 });
  });
});

describe("skipVanished", () => {
  it("jumps over messages that no longer exist", async () => {
    // Stored messages of the user: 20 and 30 (10 expired). Acked: 20 (prev 10) and 30.
    const stored = [20, 30];
    const next = async (after: number) => stored.find((seq) => seq > after);
    const state = applyAcks(
      { floor: 5, above: [], updatedAt: 0 },
      [
        { seq: 20, prev: 10 },
        { seq: 30, prev: 20 },
      ],
      0,
    );
    expect(state.floor).toBe(5);
    expect((await skipVanished(state, next)).floor).toBe(30);
  });

  it("stops at a stored unacked message", async () => {
    const stored = [12, 20];
    const next = async (after: number) => stored.find((seq) => seq > after);
    const state = applyAcks({ floor: 5, above: [], updatedAt: 0 }, [{ seq: 20, prev: 12 }], 0);
    expect(await skipVanished(state, next)).toEqual(state);
  });

  it("clears entries when nothing is stored after the floor", async () => {
    const state = { floor: 5, above: [[9, 7] as [number, number]], updatedAt: 0 };
    expect((await skipVanished(state, async () => undefined)).floor).toBe(9);
  });
});
