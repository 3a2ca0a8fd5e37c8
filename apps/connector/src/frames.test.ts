import { clientFrameSchema } from "@herald/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseClientFrame } from "./frames.js";

describe("parseClientFrame", () => {
  it("accepts an ack", () => {
    expect(parseClientFrame('{"type":"ack","ids":["a","b"]}')).toEqual({
      ok: true,
      frame: { type: "ack", ids: ["a", "b"] },
    });
  });

  it.each([
    ["not json", "invalid_json"],
    ["[1,2]", "invalid_frame"],
    ["null", "invalid_frame"],
    ['{"ids":["a"]}', "invalid_frame"],
    ['{"type":"launch"}', "unknown_frame_type"],
    ['{"type":"ack"}', "invalid_frame"],
    ['{"type":"ack","ids":[]}', "invalid_frame"],
    ['{"type":"ack","ids":[1]}', "invalid_frame"],
  ])("rejects %s with %s", (text, code) => {
    const result = parseClientFrame(text);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe(code);
  });

  it("never throws on arbitrary input", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify({ type: "ack", ids: v })),
        ),
        (text) => {
          const result = parseClientFrame(text);
          expect(typeof result.ok).toBe("boolean");
        },
      ),
      { numRuns: 10_000 },
    );
  });
});

describe("the ack fast path", () => {
  it("agrees with the schema on every generated ack frame", () => {
    fc.assert(
      fc.property(
        fc.record({
          type: fc.constant("ack"),
          ids: fc.array(fc.string({ maxLength: 260 }), { maxLength: 3 }),
        }),
        fc.boolean(),
        (frame, extraKey) => {
          const value = extraKey ? { ...frame, extra: 1 } : frame;
          const fast = parseClientFrame(JSON.stringify(value));
          const schema = clientFrameSchema.safeParse(value);
          expect(fast.ok).toBe(schema.success);
        },
      ),
      { numRuns: 10_000 },
    );
  });
});
