import type { CursorState } from "@herald/protocol";
import { describe, expect, it } from "vitest";
import { findGap, type MailboxLookups, pastGap } from "./gap-check.js";

const ALICE = "herald.mbox.alice";

/** A mailbox as a map of sequence → subject; `removed` sequences were there once and are gone. */
function mailbox(
  held: Record<number, string>,
  last: number,
  storedAt = 1_000,
): MailboxLookups & { calls: string[] } {
  const seqs = Object.keys(held)
    .map(Number)
    .sort((a, b) => a - b);
  const calls: string[] = [];
  return {
    calls,
    firstStored: async () => {
      calls.push("first");
      const seq = seqs[0];
      return seq === undefined ? undefined : { seq, time: storedAt };
    },
    lastSeq: async () => {
      calls.push("last");
      return last;
    },
    nextOwnAfter: async (subject, after) => {
      calls.push("next");
      return seqs.find((seq) => seq > after && held[seq] === subject);
    },
  };
}

const cursor = (floor: number, above: [number, number][] = [], updatedAt = 5_000): CursorState => ({
  floor,
  above,
  updatedAt,
});

describe("findGap", () => {
  it("finds none while the mailbox still holds what follows the floor", async () => {
    const held = mailbox({ 3: ALICE, 4: "herald.mbox.bob", 7: ALICE }, 7);
    expect(await findGap(cursor(3), ALICE, held)).toBeUndefined();
    expect(await findGap(cursor(2), ALICE, held)).toBeUndefined();
    // One direct get is all a device that lost nothing costs.
    expect(held.calls).toEqual(["first", "first"]);
  });

  it("reports the removed range after the floor, and a floor just before the user's next message", async () => {
    const held = mailbox({ 10: "herald.mbox.bob", 12: ALICE }, 12);
    expect(await findGap(cursor(3), ALICE, held)).toEqual({ after: 3, before: 10, floor: 11 });
  });

  it("moves the floor to the mailbox's end when nothing of the user is left", async () => {
    const held = mailbox({ 10: "herald.mbox.bob" }, 15);
    expect(await findGap(cursor(3), ALICE, held)).toEqual({ after: 3, before: 10, floor: 15 });
  });

  it("has no upper bound when the mailbox is empty", async () => {
    expect(await findGap(cursor(3), ALICE, mailbox({}, 9))).toEqual({ after: 3, floor: 9 });
    // Nothing was ever stored past the floor: nothing of the user can be gone.
    expect(await findGap(cursor(9), ALICE, mailbox({}, 9))).toBeUndefined();
  });

  it("says nothing to a device never seen before", async () => {
    expect(await findGap(cursor(0, [], 0), ALICE, mailbox({ 10: ALICE }, 10))).toBeUndefined();
  });

  it("says nothing to a device that registered after everything removed was stored", async () => {
    const held = mailbox({ 10: ALICE }, 10, 4_000);
    expect(await findGap(cursor(0, [], 5_000), ALICE, held)).toBeUndefined();
    expect(await findGap(cursor(0, [], 3_000), ALICE, held)).toEqual({ after: 0, before: 10, floor: 9 });
    // A device that acked above its floor has `updatedAt` from an ack, not from registering.
    expect(await findGap(cursor(0, [[12, 11]], 5_000), ALICE, held)).toEqual({
      after: 0,
      before: 10,
      floor: 9,
    });
  });
});

describe("pastGap", () => {
  it("moves the floor over the gap and keeps the acks above it", () => {
    const state = cursor(3, [
      [8, 7],
      [14, 13],
    ]);
    expect(pastGap(state, { after: 3, before: 10, floor: 11 }, 9_000)).toEqual({
      floor: 11,
      above: [[14, 13]],
      updatedAt: 9_000,
    });
  });

  it("goes on over acks that now follow the floor", () => {
    expect(pastGap(cursor(3, [[14, 11]]), { after: 3, floor: 11 }, 9_000).floor).toBe(14);
  });

  it("never moves a floor back (another connection already went past)", () => {
    const state = cursor(20);
    expect(pastGap(state, { after: 3, before: 10, floor: 11 }, 9_000)).toBe(state);
  });
});
