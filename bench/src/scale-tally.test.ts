import { describe, expect, it } from "vitest";
import { SCALE_TAGS, ScaleTally } from "./scale-tally.js";

const broadcast = JSON.stringify({
  type: "message",
  id: "b1",
  channel: "$broadcast",
  offset: 1,
  data: { tag: SCALE_TAGS.broadcast },
});
const targeted = (id: string) =>
  JSON.stringify({ type: "message", id, seq: 1, data: { tag: SCALE_TAGS.targeted }, ts: 0 });

describe("ScaleTally", () => {
  it("counts clients missing either message, and acks only user messages", () => {
    const tally = new ScaleTally();
    const a = tally.add();
    const b = tally.add();
    tally.add();
    expect(tally.receive(a, broadcast)).toBeUndefined();
    expect(tally.receive(a, targeted("t1"))).toBe('{"type":"ack","ids":["t1"]}');
    tally.receive(b, targeted("t2"));
    expect(tally.snapshot()).toEqual({
      clients: 3,
      both: 1,
      missingBroadcast: 2,
      missingTargeted: 1,
      duplicates: 0,
      errorFrames: 0,
    });
  });

  it("counts a message seen twice and error frames, grows past its first size, and clears", () => {
    const tally = new ScaleTally();
    for (let k = 0; k < 3000; k++) tally.add();
    tally.receive(2999, targeted("t"));
    tally.receive(2999, targeted("t"));
    tally.receive(0, JSON.stringify({ type: "error", code: "x", message: "y" }));
    expect(tally.snapshot()).toMatchObject({
      clients: 3000,
      duplicates: 1,
      errorFrames: 1,
      missingTargeted: 2999,
    });
    tally.clear();
    expect(tally.snapshot()).toMatchObject({ clients: 0, both: 0, duplicates: 0 });
  });
});
