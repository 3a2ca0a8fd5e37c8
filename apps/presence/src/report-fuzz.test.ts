import { MAX_PRESENCE_BATCH } from "@herald/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { presenceGet } from "./queries.js";
import { Registry } from "./registry.js";
import { ReportHandler } from "./report-handler.js";
import { parseReport } from "./report-parser.js";

const awkward = fc.constantFrom("__proto__", "constructor", "toString", "", "é".repeat(130), "a.b", "*");
const text = fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: "grapheme", maxLength: 130 }), awkward);
const anything = fc.oneof(
  text,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 3 }),
);
const connection = fc.oneof(
  fc.record({ connectionId: text, userId: text, deviceId: text, since: fc.oneof(fc.integer(), fc.double()) }),
  fc.dictionary(text, anything, { maxKeys: 5 }),
);
/** Reports as a connector, a buggy one or an attacker could send them. */
const report = fc.record(
  {
    type: fc.oneof(fc.constantFrom("open", "close", "beat", "heartbeat", "shutdown"), text),
    connectorId: fc.oneof(fc.constantFrom("c1", "c2", "__proto__"), text),
    bootId: fc.oneof(fc.constantFrom("b1", "b2"), anything),
    seq: fc.oneof(fc.nat(5), anything),
    connection,
    connections: fc.oneof(fc.array(connection, { maxLength: 30 }), anything),
    intervalMs: fc.oneof(fc.constant(3_000), anything),
    part: fc.oneof(fc.nat(3), anything),
    parts: fc.oneof(fc.nat(3), anything),
    count: fc.oneof(fc.nat(3), anything),
    hash: fc.oneof(
      fc.constantFrom("0000000000000000", "00000000000000ff"),
      fc.stringMatching(/^[0-9a-f]{16}$/),
      anything,
    ),
  },
  { requiredKeys: ["type", "connectorId"] },
);

describe("presence under generated reports and queries", () => {
  it("applies or drops every report without throwing, and always answers queries", () => {
    fc.assert(
      fc.property(
        fc.array(report, { maxLength: 40 }),
        fc.array(fc.oneof(text, anything), { maxLength: 8 }),
        (reports, ids) => {
          const registry = new Registry(() => {});
          const handler = new ReportHandler(registry, {
            now: () => 0,
            onGap: () => {},
            onMismatch: () => {},
          });
          for (const body of reports) {
            const parsed = parseReport(JSON.parse(JSON.stringify(body)), () => true);
            if (parsed) handler.handle(parsed);
          }
          const count = registry.count();
          expect(count.connections).toBeGreaterThanOrEqual(0);
          expect(() => JSON.stringify(count)).not.toThrow();
          for (const request of [{ userId: ids[0] }, { userIds: ids }, { userIds: ids, extra: 1 }, ids]) {
            try {
              expect(JSON.stringify(presenceGet(registry, request))).toBeDefined();
            } catch (err) {
              expect((err as { code?: string }).code).toMatch(/^invalid_(request|user_id)$/);
            }
          }
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it("counts a connector named __proto__ like any other", () => {
    const registry = new Registry(() => {});
    registry.open("__proto__", { connectionId: "x", userId: "u", deviceId: "d", since: 1 });
    const { connectors } = JSON.parse(JSON.stringify(registry.count())) as { connectors: object };
    expect(Object.keys(connectors)).toEqual(["__proto__"]);
    expect(Object.getOwnPropertyDescriptor(connectors, "__proto__")?.value).toEqual({ connections: 1 });
    expect(() => presenceGet(registry, { userIds: Array(MAX_PRESENCE_BATCH + 1).fill("u") })).toThrow(/1 to/);
  });
});
