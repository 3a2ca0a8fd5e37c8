import { describe, expect, it } from "vitest";
import { deflateRatio, realisticContent, realisticPayloads, sampleFrame } from "./payloads.js";

const body = (content: Record<string, unknown>) =>
  JSON.stringify({
    id: "mj3k2a1b-2-12345",
    data: { ...content, ph: 2, i: 12_345, t: 1e12, w: 1.7e15, p: "" },
  });

describe("realisticPayloads", () => {
  it("makes distinct bodies of about the requested size at both sizes", () => {
    for (const [target, low, high] of [
      [200, 150, 320],
      [3_000, 2_400, 3_600],
    ] as const) {
      const variants = realisticPayloads(target);
      expect(variants).toHaveLength(64);
      const sizes = variants.map((content) => body(content).length);
      expect(Math.min(...sizes)).toBeGreaterThanOrEqual(low);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(high);
      expect(new Set(variants.map((content) => JSON.stringify(content))).size).toBe(64);
    }
  });

  it("is the same in every run (seeded)", () => {
    expect(realisticContent(42, 3_000)).toEqual(realisticContent(42, 3_000));
    expect(realisticContent(42, 3_000)).not.toEqual(realisticContent(43, 3_000));
  });
});

describe("deflateRatio", () => {
  it("says realistic JSON deflates about 2×, unlike padding, and short frames barely", () => {
    const frames = (target: number) =>
      realisticPayloads(target).map((content) => sampleFrame("m-1", content));
    const large = deflateRatio(frames(3_000));
    expect(large).toBeGreaterThan(0.3);
    expect(large).toBeLessThan(0.6);
    expect(deflateRatio(frames(200))).toBeGreaterThan(large);
    expect(deflateRatio(["x".repeat(3_000)])).toBeLessThan(0.02);
    expect(deflateRatio([])).toBeNaN();
  });

  it("frames a message as the connector sends it", () => {
    expect(JSON.parse(sampleFrame("m-1", { a: 1 }))).toMatchObject({
      type: "message",
      id: "m-1",
      data: { a: 1 },
    });
  });
});
