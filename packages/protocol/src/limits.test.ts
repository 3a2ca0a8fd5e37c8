import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { channelProblem } from "./channels.js";
import { ErrorCode, HttpStatus } from "./errors.js";
import { clientFrameSchema } from "./frames.js";
import {
  closeReason,
  jsonDeeperThan,
  MAX_CHANNEL_LENGTH,
  MAX_CLOSE_REASON_BYTES,
  payloadBudget,
  truncateUtf8,
  utf8ByteLength,
} from "./limits.js";

const bytes = (text: string) => new TextEncoder().encode(text);

/** Nesting depth of a parsed JSON value (a scalar is 0). */
function depthOf(value: unknown): number {
  if (typeof value !== "object" || value === null) return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...children.map(depthOf));
}

describe("jsonDeeperThan", () => {
  it("agrees with the depth of the parsed value, whatever the strings hold", () => {
    const tricky = fc.constantFrom("[", "]", "{", "}", '"', "\\", '\\"[', "é[", "😀{");
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: "small" },
        fc.string({ maxLength: 6 }),
        tricky,
        fc.integer(),
        fc.array(tie("node"), { maxLength: 3 }),
        fc.dictionary(fc.oneof(fc.string({ maxLength: 4 }), tricky), tie("node"), { maxKeys: 3 }),
      ),
    })).node;
    fc.assert(
      fc.property(value, fc.integer({ min: 0, max: 12 }), (v, max) => {
        expect(jsonDeeperThan(bytes(JSON.stringify(v)), max)).toBe(depthOf(v) > max);
      }),
      { numRuns: 5_000 },
    );
  });

  it("finds 20,000 levels in a 40 kB publish", () => {
    const deep = `{"data":${"[".repeat(20_000)}${"]".repeat(20_000)}}`;
    expect(jsonDeeperThan(bytes(deep), 64)).toBe(true);
    expect(jsonDeeperThan(bytes(JSON.stringify({ data: "[".repeat(20_000) })), 64)).toBe(false);
  });
});

describe("truncateUtf8 and closeReason", () => {
  it("cut to the byte limit on a character boundary, keeping as much as fits", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: "binary", maxLength: 200 }),
          fc.string({ unit: "grapheme", maxLength: 200 }),
          fc.string({ maxLength: 200 }),
        ),
        fc.integer({ min: 0, max: 200 }),
        (text, max) => {
          const cut = truncateUtf8(text, max);
          const encoded = new TextEncoder().encode(cut);
          expect(encoded.length).toBeLessThanOrEqual(max);
          expect(utf8ByteLength(cut)).toBe(encoded.length);
          expect(cut.isWellFormed()).toBe(true);
          const whole = text.toWellFormed();
          expect(whole.startsWith(cut)).toBe(true);
          // Maximal: the next character would not have fit.
          const next = whole.slice(cut.length).codePointAt(0);
          if (next !== undefined)
            expect(encoded.length + utf8ByteLength(String.fromCodePoint(next))).toBeGreaterThan(max);
        },
      ),
      { numRuns: 10_000 },
    );
  });

  it.each([
    ["é".repeat(62), 61],
    ["界".repeat(42), 41],
    ["😀".repeat(31), 30],
  ])("cuts a close reason of %#: %s", (reason, characters) => {
    const cut = closeReason(reason);
    expect([...cut]).toHaveLength(characters);
    expect(new TextEncoder().encode(cut).length).toBeLessThanOrEqual(MAX_CLOSE_REASON_BYTES);
  });

  it("leaves short reasons and budgets alone", () => {
    expect(closeReason("token expired")).toBe("token expired");
    expect(payloadBudget(1024 * 1024)).toBe(1024 * 1024 - 1024);
    expect(payloadBudget(10)).toBe(1024);
  });
});

describe("MAX_CHANNEL_LENGTH", () => {
  it("is the one limit of subscribe frames and channel names", () => {
    const name = "x".repeat(MAX_CHANNEL_LENGTH);
    expect(channelProblem(name)).toBeUndefined();
    expect(clientFrameSchema.safeParse({ type: "subscribe", channel: name }).success).toBe(true);
    expect(channelProblem(`${name}x`)).toBeDefined();
    expect(clientFrameSchema.safeParse({ type: "subscribe", channel: `${name}x` }).success).toBe(false);
    expect(clientFrameSchema.safeParse({ type: "unsubscribe", channel: `${name}x` }).success).toBe(false);
  });
});

describe("HttpStatus", () => {
  it("gives every error code an HTTP error status", () => {
    for (const code of Object.values(ErrorCode)) {
      expect(HttpStatus[code], code).toBeGreaterThanOrEqual(400);
      expect(HttpStatus[code], code).toBeLessThan(600);
    }
  });
});
