import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { utf8 } from "./utf8.js";

describe("utf8", () => {
  it("writes the bytes TextEncoder writes, for any string", () => {
    const encoder = new TextEncoder();
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (text) => {
        expect(Buffer.from(utf8(text)).equals(Buffer.from(encoder.encode(text)))).toBe(true);
      }),
    );
    expect([...utf8("\ud800")]).toEqual([0xef, 0xbf, 0xbd]);
  });

  it("gives each call its own bytes", () => {
    const a = utf8("first");
    const b = utf8("second");
    expect(new TextDecoder().decode(a)).toBe("first");
    expect(new TextDecoder().decode(b)).toBe("second");
  });
});
