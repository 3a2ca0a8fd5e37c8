import { describe, expect, it } from "vitest";
import { BROADCAST, ChannelRegistry } from "./channels.js";

describe("ChannelRegistry", () => {
  it("resubscribes from the last offset seen", () => {
    const registry = new ChannelRegistry();
    expect(registry.add("news", () => {}, undefined)).toBe(true);
    registry.deliver({ type: "message", id: "a", channel: "news", offset: 7, data: 1, ts: 0 }, () => {});
    expect(registry.subscribeFrames()).toEqual([{ type: "subscribe", channel: "news", since: 7 }]);
  });

  it("takes broadcast handlers without ever subscribing to the broadcast", () => {
    const registry = new ChannelRegistry();
    const got: string[] = [];
    expect(registry.add(BROADCAST, (m) => void got.push(m.id), undefined)).toBe(false);
    registry.deliver({ type: "message", id: "b1", channel: BROADCAST, offset: 3, data: 1, ts: 0 }, () => {});
    expect(got).toEqual(["b1"]);
    expect(registry.subscribeFrames()).toEqual([]);
  });
});
