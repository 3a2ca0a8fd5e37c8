import { randomUUID } from "node:crypto";
import { payloadBudget, utf8ByteLength } from "@herald/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { splitBySize } from "./presence-reporter.js";

describe("splitBySize", () => {
  it("keeps every item in order, in parts within the count and byte limits (a lone oversized item aside)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 200 }),
        fc.integer({ min: 1, max: 1_000 }),
        fc.integer({ min: 1, max: 20 }),
        (sizes, maxBytes, maxCount) => {
          const parts = splitBySize(sizes, (n) => n, maxBytes, maxCount);
          expect(parts.flat()).toEqual(sizes);
          expect(parts.length).toBeGreaterThan(0);
          for (const part of parts) {
            expect(part.length).toBeLessThanOrEqual(maxCount);
            if (part.length > 1)
              expect(part.reduce((sum, n) => sum + n + 1, 0)).toBeLessThanOrEqual(maxBytes);
          }
          if (sizes.length > 0) expect(parts.every((part) => part.length > 0)).toBe(true);
        },
      ),
      { numRuns: 5_000 },
    );
  });

  it("splits a heartbeat of long non-ASCII ids into reports that each fit max_payload", () => {
    const maxPayload = 256 * 1024;
    const connections = Array.from({ length: 1_000 }, (_, i) => ({
      connectionId: randomUUID(),
      userId: `${"😀".repeat(120)}-${i}`,
      deviceId: `${"界".repeat(120)}-${i}`,
      since: Date.now(),
    }));
    const parts = splitBySize(
      connections,
      (c) => utf8ByteLength(JSON.stringify(c)),
      payloadBudget(maxPayload),
      1_000,
    );
    expect(parts.length).toBeGreaterThan(1);
    for (const [part, list] of parts.entries()) {
      const report = {
        type: "heartbeat",
        connections: list,
        intervalMs: 3_000,
        part,
        parts: parts.length,
        connectorId: "c".repeat(64),
        bootId: randomUUID(),
        seq: Number.MAX_SAFE_INTEGER,
      };
      expect(Buffer.byteLength(JSON.stringify(report))).toBeLessThanOrEqual(maxPayload);
    }
  });
});
