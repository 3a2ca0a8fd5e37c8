import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { messageFrame, spliceableEntry } from "./live-feeds.js";

describe("spliceableEntry", () => {
  it("finds the id and store time of every entry the router writes, and splicing gives the same frame as serialising", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.jsonValue(),
        fc.nat(),
        fc.nat(),
        (id, data, ts, seq) => {
          const text = JSON.stringify({ id, data, ts });
          const found = spliceableEntry(text);
          expect(found?.id).toBe(id);
          expect(found?.ts).toBe(ts);
          const spliced = `{"type":"message","seq":${seq},${text.slice(1)}`;
          expect(JSON.parse(spliced)).toEqual(JSON.parse(messageFrame(id, seq, JSON.parse(text).data, ts)));
        },
      ),
      { numRuns: 5_000 },
    );
  });

  it.each([
    '{"data":1,"id":"a","ts":1}',
    '{"id":"a","data":1}',
    '{"id":"a","ts":1,"data":2}',
    "[]",
    '{"id":"a',
  ])("leaves %s to the slow path", (text) => {
    expect(spliceableEntry(text)).toBeUndefined();
  });
});
