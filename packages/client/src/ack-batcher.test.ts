import { describe, expect, it } from "vitest";
import { AckBatcher } from "./ack-batcher.js";
import { waitFor } from "./test-support/wait.js";

describe("AckBatcher", () => {
  it("sends ids added in one tick as one frame", async () => {
    const frames: string[][] = [];
    const acks = new AckBatcher((ids) => frames.push(ids), 1000, 0);
    acks.add("a");
    acks.add("b");
    expect(frames).toEqual([]);
    await waitFor(() => frames.length === 1, "the batch");
    expect(frames).toEqual([["a", "b"]]);
  });

  it("sends a full batch at once and never more than the maximum per frame", async () => {
    const frames: string[][] = [];
    const acks = new AckBatcher((ids) => frames.push(ids), 1000, 0);
    for (let i = 0; i < 2500; i++) acks.add(`m${i}`);
    expect(frames.map((ids) => ids.length)).toEqual([1000, 1000]);
    await waitFor(() => frames.length === 3, "the remainder");
    expect(frames.map((ids) => ids.length)).toEqual([1000, 1000, 500]);
    expect(frames.flat()).toEqual(Array.from({ length: 2500 }, (_, i) => `m${i}`));
  });

  it("flush sends at once; clear drops", async () => {
    const frames: string[][] = [];
    const acks = new AckBatcher((ids) => frames.push(ids), 2, 0);
    for (const id of ["a", "b", "c"]) acks.add(id);
    acks.flush();
    expect(frames).toEqual([["a", "b"], ["c"]]);
    acks.add("d");
    acks.clear();
    acks.add("e");
    await waitFor(() => frames.length === 3, "the batch after clear");
    expect(frames[2]).toEqual(["e"]);
  });
});
