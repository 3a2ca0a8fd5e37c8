import { createHandlerGuard, createLogger, Registry } from "@herald/service-kit";
import type { Msg, NatsConnection } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { LiveFeeds } from "./live-feeds.js";

/** A NATS connection whose subscriptions the test drives by hand. */
function fakeNats() {
  const subs = new Map<string, { callback: (err: Error | null, msg: Msg) => void; open: boolean }>();
  const nc = {
    subscribe: (subject: string, opts: { callback: (err: Error | null, msg: Msg) => void }) => {
      const sub = { callback: opts.callback, open: true };
      subs.set(subject, sub);
      return {
        unsubscribe: () => {
          sub.open = false;
        },
      };
    },
  } as unknown as NatsConnection;
  const publish = (subject: string, text: string) =>
    subs.get(subject)?.callback(null, { subject, string: () => text } as unknown as Msg);
  return { nc, subs, publish };
}

const guard = createHandlerGuard(createLogger("test", "silent"), new Registry());

describe("live feeds", () => {
  it("shares one subscription per subject between listeners, and ends it with the last", () => {
    const { nc, subs, publish } = fakeNats();
    const parse = (msg: Msg) => (msg.string() === "bad" ? undefined : msg.string());
    const feeds = new LiveFeeds<string>(nc, parse, guard);
    const seen: string[] = [];
    const a = { push: (item: string) => seen.push(`a:${item}`), resync: () => seen.push("a:resync") };
    const b = { push: (item: string) => seen.push(`b:${item}`) };
    feeds.follow("s", "k", a);
    publish("s", "1");
    feeds.follow("s", "k", b);
    publish("s", "2");
    publish("s", "bad");
    feeds.unfollow("s", a);
    publish("s", "3");
    expect(seen).toEqual(["a:1", "a:2", "b:2", "a:resync", "b:3"]);
    expect(subs.get("s")?.open).toBe(true);
    feeds.unfollow("s", a);
    expect(feeds.size).toBe(1);
    feeds.unfollow("s", b);
    expect(subs.get("s")?.open).toBe(false);
    expect(feeds.size).toBe(0);
  });

  it("keeps delivering to the others when one listener throws", () => {
    const { nc, publish } = fakeNats();
    const feeds = new LiveFeeds<string>(nc, (msg) => msg.string(), guard);
    const seen: string[] = [];
    feeds.follow("s", "k", {
      push: () => {
        throw new Error("boom");
      },
    });
    feeds.follow("s", "k", { push: (item) => seen.push(item) });
    publish("s", "1");
    expect(seen).toEqual(["1"]);
  });

  it("routes each subject's messages to its own listeners with its key, and survives a subscription error", () => {
    const { nc, subs, publish } = fakeNats();
    const feeds = new LiveFeeds<string>(nc, (msg, key) => `${key}=${msg.string()}`, guard);
    const seen: string[] = [];
    feeds.follow("live.a", "user-a", { push: (item) => seen.push(`A ${item}`) });
    feeds.follow("live.b", "user-b", { push: (item) => seen.push(`B ${item}`) });
    publish("live.b", "1");
    publish("live.a", "2");
    subs.get("live.a")?.callback(new Error("permissions violation"), {} as Msg);
    publish("live.a", "3");
    expect(seen).toEqual(["B user-b=1", "A user-a=2", "A user-a=3"]);
  });
});
