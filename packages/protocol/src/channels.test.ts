import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { channelAllowed, channelProblem, parseChannelRetention, retentionFor } from "./channels.js";
import { subjects } from "./subjects.js";

describe("channel names", () => {
  it("never accept a separator, wildcard or space, so a channel is always exactly one subject token", () => {
    const s = subjects("herald");
    fc.assert(
      fc.property(fc.string({ maxLength: 150 }), (name) => {
        if (channelProblem(name) !== undefined) return;
        expect(name).not.toMatch(/[.*>\s]/);
        expect(s.sendChannel(name).split(".")).toHaveLength(4);
        expect(s.channel("default", name).split(".")).toHaveLength(4);
      }),
      { numRuns: 10_000 },
    );
  });

  it.each(["", "a.b", "*", ">", "a b", "$broadcast", "x".repeat(129)])("refuses %j", (name) => {
    expect(channelProblem(name)).toBeDefined();
  });

  it("matches claims by name or prefix*", () => {
    expect(channelAllowed(["chat-*", "news"], "chat-1")).toBe(true);
    expect(channelAllowed(["chat-*", "news"], "news")).toBe(true);
    expect(channelAllowed(["chat-*", "news"], "newsy")).toBe(false);
    expect(channelAllowed([], "chat-1")).toBe(false);
  });
});

describe("channel retention", () => {
  it("parses rules, adds the default and picks the longest matching pattern", () => {
    const rules = parseChannelRetention("chat-*=1000/24h;chat-vip-*=10/7d;news=5/1h");
    expect(rules.map((r) => r.id)).toEqual(["chat-", "chat-vip-", "news_x", "default"]);
    expect(retentionFor(rules, "chat-vip-1")).toMatchObject({ maxMessages: 10, maxAgeMs: 7 * 86_400_000 });
    expect(retentionFor(rules, "chat-1")).toMatchObject({ maxMessages: 1000 });
    expect(retentionFor(rules, "news")).toMatchObject({ maxMessages: 5 });
    expect(retentionFor(rules, "other")).toMatchObject({ id: "default", maxMessages: 100 });
  });

  it.each(["chat-*", "chat-*=x/1h", "chat-*=10/1y", "a.b=1/1h", "*=0/1h", "a=1/1h;a=2/1h"])(
    "refuses %j",
    (text) => {
      expect(() => parseChannelRetention(text)).toThrow();
    },
  );
});
