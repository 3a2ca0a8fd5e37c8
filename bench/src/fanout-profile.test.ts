import { describe, expect, it } from "vitest";
import { areaOf, summarizeProfile } from "./fanout-profile.js";

const frame = (functionName: string, url = "", lineNumber = 0) => ({ functionName, url, lineNumber });

describe("summarizeProfile", () => {
  it("charges each sample's delta to its node and groups by function and area", () => {
    const profile = {
      nodes: [
        { id: 1, callFrame: frame("(root)") },
        { id: 2, callFrame: frame("(idle)") },
        {
          id: 3,
          callFrame: frame("send", "file:///r/node_modules/.pnpm/ws@8.21.3/node_modules/ws/lib/sender.js", 9),
        },
        { id: 4, callFrame: frame("push", "file:///r/apps/connector/dist/gapless-feed.js", 40) },
        { id: 5, callFrame: frame("(garbage collector)") },
      ],
      samples: [3, 3, 4, 2, 5],
      timeDeltas: [1000, 2000, 1000, 5000, 1000],
    };
    const summary = summarizeProfile(profile, 2);
    expect(summary.totalMs).toBe(10);
    expect(summary.idleMs).toBe(5);
    expect(summary.top).toEqual([
      { name: "send ws/lib/sender.js:10", selfMs: 3, percent: 60 },
      { name: "push apps/connector/dist/gapless-feed.js:41", selfMs: 1, percent: 20 },
    ]);
    expect(summary.areas.map((a) => a.name)).toEqual(["ws", "apps/connector", "garbage collector"]);
  });

  it("names areas", () => {
    expect(areaOf(frame("writev", "node:internal/stream_base_commons"))).toBe("node internals");
    expect(
      areaOf(
        frame(
          "x",
          "file:///r/node_modules/.pnpm/@nats-io+nats-core@3.4.0/node_modules/@nats-io/nats-core/lib/x.js",
        ),
      ),
    ).toBe("@nats-io/nats-core");
    expect(areaOf(frame("(program)"))).toBe("native / program");
  });
});
