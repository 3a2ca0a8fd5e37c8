import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { memoryResult } from "./idle-run.js";
import { renderScaleChart, scaleLines } from "./scale-report.js";
import type { ScaleResult } from "./scale-run.js";

const committed = (): ScaleResult =>
  JSON.parse(readFileSync(new URL("../results/scale-latest.json", import.meta.url), "utf8")).scale;

describe("the scale part's report", () => {
  it("reads results from before the settled reading", () => {
    const scale = committed();
    delete scale.settledMemory;
    delete scale.settledAfterMs;
    const lines = scaleLines(scale).join("\n");
    expect(lines).toContain("3 s after the last connected");
    expect(lines).not.toContain(" s after: ");
    expect(renderScaleChart(scale, "t")).not.toMatch(/NaN|undefined/);
  });

  it("reports the settled reading beside the first, and charts it", () => {
    const scale: ScaleResult = {
      ...committed(),
      memory: [
        memoryResult(50_000, 1e8, 1e8 + 50_000 * 8_400),
        memoryResult(50_000, 1e8, 1e8 + 50_000 * 8_600),
      ],
      settledMemory: [
        memoryResult(50_000, 1e8, 1e8 + 50_000 * 6_100),
        memoryResult(50_000, 1e8, 1e8 + 50_000 * 6_300),
      ],
      settledAfterMs: 60_000,
    };
    const lines = scaleLines(scale).join("\n");
    expect(lines).toContain("3 s after the last connected: 8.4 KB, 8.6 KB (mean 8.5 KB)");
    expect(lines).toContain("60 s after: 6.1 KB, 6.3 KB (mean 6.2 KB)");
    const svg = renderScaleChart(scale, "t");
    expect(svg).toContain("once settled");
    expect(svg).toContain("6.1k");
  });
});
