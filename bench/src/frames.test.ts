import { describe, expect, it } from "vitest";
import { dataMaker, idPrefix, indexOfId, messageId } from "./frames.js";

describe("message ids", () => {
  it("round-trip the index and share the phase prefix", () => {
    const id = messageId("run1", 2, 4711);
    expect(id.startsWith(idPrefix("run1", 2))).toBe(true);
    expect(indexOfId(id)).toBe(4711);
    expect(indexOfId("no-index-x")).toBe(-1);
  });
});

describe("dataMaker", () => {
  it("pads the wrapped body to about the requested size", () => {
    const wrap = (data: unknown) => JSON.stringify({ id: messageId("abc", 2, 99_999), data });
    const make = dataMaker(200, wrap);
    const data = make(2, 12_345);
    expect(data).toMatchObject({ ph: 2, i: 12_345 });
    expect(Math.abs(wrap(data).length - 200)).toBeLessThanOrEqual(2);
  });
});
