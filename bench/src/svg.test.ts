import { describe, expect, it } from "vitest";
import { escapeXml, formatNumber, logAxis, renderChart } from "./svg.js";

describe("formatNumber", () => {
  it("shortens large numbers", () => {
    expect(formatNumber(1_234_567)).toBe("1.23M");
    expect(formatNumber(45_200)).toBe("45.2k");
    expect(formatNumber(6_000)).toBe("6k");
    expect(formatNumber(512)).toBe("512");
    expect(formatNumber(0.84)).toBe("0.84");
    expect(formatNumber(Number.NaN)).toBe("n/a");
  });
});

describe("logAxis", () => {
  it("spans whole decades around the values and maps them monotonically", () => {
    const { x, ticks } = logAxis([0.3, 25], 300);
    expect(ticks).toEqual([0.1, 1, 10, 100]);
    expect(x(0.1)).toBeCloseTo(0);
    expect(x(100)).toBeCloseTo(300);
    expect(x(10)).toBeCloseTo(200);
    expect(x(1)).toBeLessThan(x(2));
    expect(x(0)).toBe(0);
  });
});

describe("renderChart", () => {
  const chart = renderChart({
    title: "Herald <bench> & co",
    subtitle: "1000 users",
    throughput: [
      { label: "Herald", value: 6_000, highlight: true, note: "0.6× ceiling" },
      { label: "raw ws", value: 180_000 },
    ],
    throughputTarget: { label: "target 5k", value: 5_000 },
    latency: [{ label: "Herald", p50: 2.1, p90: 4, p99: 9.5 }],
    latencyTargetMs: 20,
    latencyTitle: "latency",
  });

  it("is one well-formed svg document with escaped text", () => {
    expect(chart.startsWith("<svg ")).toBe(true);
    expect(chart.trim().endsWith("</svg>")).toBe(true);
    expect(chart).toContain("Herald &lt;bench&gt; &amp; co");
    expect(chart).not.toMatch(/NaN|undefined|Infinity/);
    expect(chart.match(/<text/g)?.length).toBe(chart.match(/<\/text>/g)?.length);
  });

  it("draws a bar per system and per percentile, with the values and targets", () => {
    expect(chart.match(/<rect /g)?.length).toBe(1 + 2 + 3);
    for (const label of ["6k", "180k", "p99 9.5 ms", "target 5k", "target p99 ≤ 20 ms"]) {
      expect(chart).toContain(label);
    }
  });

  it("escapes every special character", () => {
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  });
});
