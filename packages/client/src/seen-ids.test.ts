import { describe, expect, it } from "vitest";
import { SeenIds } from "./seen-ids.js";

describe("SeenIds", () => {
  it("forgets the least recently touched id beyond capacity", () => {
    const seen = new SeenIds(3);
    for (const id of ["a", "b", "c"]) seen.add(id);
    expect(seen.has("a")).toBe(true); // touching "a" makes "b" the oldest
    seen.add("d");
    expect(seen.size).toBe(3);
    expect(seen.has("b")).toBe(false);
    expect(seen.has("a")).toBe(true);
    expect(seen.has("c")).toBe(true);
    expect(seen.has("d")).toBe(true);
  });

  it("stays bounded under many ids", () => {
    const seen = new SeenIds(10_000);
    for (let i = 0; i < 25_000; i++) seen.add(`m${i}`);
    expect(seen.size).toBe(10_000);
    expect(seen.has("m14999")).toBe(false);
    expect(seen.has("m15000")).toBe(true);
  });

  it("rejects a capacity below 1", () => {
    expect(() => new SeenIds(0)).toThrow(RangeError);
  });
});
