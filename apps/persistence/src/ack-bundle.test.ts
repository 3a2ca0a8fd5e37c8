import { ackBundleSchema } from "@herald/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readAckBundle } from "./ack-bundle.js";

const bundle = (acks: unknown[], extra: Record<string, unknown> = {}) => ({
  batches: [{ userId: "u1", deviceId: "d1", acks, at: 1, ...extra }],
});

describe("readAckBundle", () => {
  it("reads the connector's bundles as they are", () => {
    const value = bundle([
      { id: "m1", seq: 2, prev: 0 },
      { id: "m2", seq: 3, prev: 2, trace: "00-ab-cd-01" },
    ]);
    expect(readAckBundle(value)).toEqual(value);
  });

  it.each([
    ["no batches", { batches: [] }],
    ["no acks", bundle([])],
    ["a zero seq", bundle([{ id: "m", seq: 0, prev: 0 }])],
    ["a negative prev", bundle([{ id: "m", seq: 1, prev: -1 }])],
    ["a fractional seq", bundle([{ id: "m", seq: 1.5, prev: 0 }])],
    ["a numeric id", bundle([{ id: 1, seq: 1, prev: 0 }])],
    ["a long trace", bundle([{ id: "m", seq: 1, prev: 0, trace: "x".repeat(257) }])],
    ["no at", { batches: [{ userId: "u", deviceId: "d", acks: [{ id: "m", seq: 1, prev: 0 }] }] }],
    ["not an object", [1]],
  ])("refuses a bundle with %s", (_, value) => {
    expect(readAckBundle(value)).toBeUndefined();
  });

  it("drops unknown keys, as the schema does", () => {
    const value = bundle([{ id: "m", seq: 1, prev: 0, extra: true }], { more: 1 });
    expect(readAckBundle(value)).toEqual(bundle([{ id: "m", seq: 1, prev: 0 }]));
  });

  it("gives exactly what the schema gives, for any value near the shape", () => {
    const num = fc.oneof(fc.integer({ min: -2, max: 5 }), fc.double(), fc.constant(2 ** 53));
    // Half of them with every required key, so that many pass and the accepted values are compared too.
    const ack = fc.record(
      { id: fc.oneof(fc.string(), fc.integer()), seq: num, prev: num, trace: fc.string({ maxLength: 300 }) },
      { requiredKeys: [] },
    );
    const goodAck = fc.record(
      { id: fc.string(), seq: fc.integer({ min: 1 }), prev: fc.nat(), trace: fc.string({ maxLength: 300 }) },
      { requiredKeys: ["id", "seq", "prev"] },
    );
    const batchOf = (acks: fc.Arbitrary<unknown>, requiredKeys: ("userId" | "deviceId" | "acks" | "at")[]) =>
      fc.record(
        {
          userId: fc.string(),
          deviceId: fc.string(),
          acks: fc.array(acks, { maxLength: 3 }),
          at: num,
          x: fc.nat(),
        },
        { requiredKeys },
      );
    const batch = fc.oneof(batchOf(ack, []), batchOf(goodAck, ["userId", "deviceId", "acks", "at"]));
    const value = fc.oneof(fc.record({ batches: fc.array(batch, { maxLength: 3 }) }), fc.anything());
    fc.assert(
      fc.property(value, (v) => {
        const parsed = ackBundleSchema.safeParse(v);
        expect(readAckBundle(v)).toEqual(parsed.success ? parsed.data : undefined);
      }),
      { numRuns: 2_000 },
    );
  });
});
