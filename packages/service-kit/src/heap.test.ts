import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { growthPercent, MIN_HEAP_HEADROOM_BYTES } from "./heap.js";

const MiB = 2 ** 20;

describe("growthPercent", () => {
  it("is the percentage asked for once the live heap is large", () => {
    expect(growthPercent(20, 200 * MiB)).toBe(20);
    expect(growthPercent(20, 1024 * MiB)).toBe(20);
  });

  it("gives a small heap at least MIN_HEAP_HEADROOM_BYTES of room, but never more than its live size", () => {
    expect(growthPercent(20, 40 * MiB)).toBe(Math.ceil((MIN_HEAP_HEADROOM_BYTES * 100) / (40 * MiB)));
    expect(growthPercent(20, 1 * MiB)).toBe(100);
    expect(growthPercent(20, 0)).toBe(100);
  });
});

/**
 * A child process keeps ~100 MB live and churns objects that live long enough to be promoted, then reports the
 * largest heap it reached, turning the event loop as a service does,: with the bound it stays far below what V8 allows on its own.
 */
async function peakHeap(percent: number): Promise<number> {
  const heap = fileURLToPath(new URL("./heap.ts", import.meta.url));
  const script = `
    import { getHeapStatistics } from "node:v8";
    import { setImmediate as turn } from "node:timers/promises";
    const { limitHeapGrowth } = await import(${JSON.stringify(heap)});
    limitHeapGrowth(${percent});
    // The live set arrives over many turns, as connections do.
    const live = [];
    for (let i = 0; i < 1_000_000; i++) {
      live.push({ i, s: "live-" + i, t: [i] });
      if (i % 20_000 === 0) await turn();
    }
    const ring = new Array(400_000).fill(null);
    let peak = 0;
    for (let n = 0; n < 10_000_000; n++) {
      ring[n % ring.length] = { n, a: [n, n + 1, n + 2], s: "g" + n };
      if (n % 10_000 === 0) peak = Math.max(peak, getHeapStatistics().total_heap_size);
      if (n % 100_000 === 0) await turn(); // the bound follows collections it hears of between turns
    }
    console.log(JSON.stringify({ peak, live: live.length }));`;
  const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script]);
  return (JSON.parse(stdout) as { peak: number }).peak;
}

describe("limitHeapGrowth", () => {
  it("keeps a churning heap well below the size V8 lets it reach unbounded", {
    timeout: 60_000,
  }, async () => {
    const unbounded = await peakHeap(0);
    const bounded = await peakHeap(20);
    expect(bounded).toBeLessThan(unbounded * 0.75);
  });
});
