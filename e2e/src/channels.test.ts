import { HeraldClient } from "@herald/client";
import type { ChannelMessageFrame, SubscribedFrame } from "@herald/protocol";
import { connectClient, signSubscriptionToken, signToken, type TestClient, waitUntil } from "@herald/testkit";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startBalancer } from "./support/tcp-balancer.js";
import { useStack } from "./support/use-stack.js";

const world = useStack({
  replicas: 3,
  env: { HERALD_CHANNEL_RETENTION: "short-*=3/1h;chat-*=1000/24h;*=100/1h" },
});

const channelMessages = (client: TestClient, channel: string) =>
  client.frames.filter(
    (f): f is ChannelMessageFrame => f.type === "message" && "channel" in f && f.channel === channel,
  );

async function subscribed(client: TestClient, channel: string, since?: number): Promise<SubscribedFrame> {
  client.send({ type: "subscribe", channel, ...(since === undefined ? {} : { since }) });
  return client.waitFor<SubscribedFrame>((f) => f.type === "subscribed" && f.channel === channel);
}

/** Publishes `count` messages while a live subscriber watches, and returns their offsets once all arrived. */
async function publishAndLearnOffsets(channel: string, count: number, prefix: string): Promise<number[]> {
  const watcher = await connectClient(
    world.stack.wsUrl(await signToken({ sub: "watcher", channels: ["*"] }, world.stack.jwtSecret)),
  );
  await subscribed(watcher, channel);
  for (let i = 0; i < count; i++)
    await world.backend.publish(world.backend.s.sendChannel(channel), { data: i, id: `${prefix}-${i}` });
  await waitUntil(() => channelMessages(watcher, channel).length >= count, { timeoutMs: 10_000 });
  const offsets = channelMessages(watcher, channel).map((m) => m.offset);
  await watcher.close();
  return offsets;
}

describe("channels", () => {
  it("deliver a channel publish to every subscriber on 3 connectors, in order", async () => {
    const clients = await Promise.all(
      [0, 1, 2, 0, 1, 2].map(async (i, n) =>
        connectClient(
          world.stack.wsUrl(
            await signToken({ sub: `reader${n}`, channels: ["chat-*"] }, world.stack.jwtSecret),
            i,
          ),
        ),
      ),
    );
    for (const c of clients) expect((await subscribed(c, "chat-lobby")).recovered).toBe(false);
    for (let i = 0; i < 20; i++)
      await world.backend.publish(world.backend.s.sendChannel("chat-lobby"), {
        data: { i },
        id: `lobby-${i}`,
      });
    for (const c of clients) {
      await waitUntil(() => channelMessages(c, "chat-lobby").length >= 20, { timeoutMs: 10_000 });
      const got = channelMessages(c, "chat-lobby");
      expect(got.map((m) => m.id)).toEqual(Array.from({ length: 20 }, (_, i) => `lobby-${i}`));
      expect(got.every((m, i) => i === 0 || m.offset > got[i - 1]!.offset)).toBe(true);
    }
    await Promise.all(clients.map((c) => c.close()));
  });

  it("replay everything after `since`, then live, with no gap or duplicate (recovered: true)", async () => {
    const offsets = await publishAndLearnOffsets("chat-history", 10, "h");
    const client = await connectClient(
      world.stack.wsUrl(await signToken({ sub: "late", channels: ["chat-*"] }, world.stack.jwtSecret)),
    );
    const answer = await subscribed(client, "chat-history", offsets[3]);
    expect(answer.recovered).toBe(true);
    await world.backend.publish(world.backend.s.sendChannel("chat-history"), { data: 10, id: "h-10" });
    await waitUntil(() => channelMessages(client, "chat-history").length >= 7, { timeoutMs: 10_000 });
    expect(channelMessages(client, "chat-history").map((m) => m.id)).toEqual([
      "h-4",
      "h-5",
      "h-6",
      "h-7",
      "h-8",
      "h-9",
      "h-10",
    ]);
    await client.close();
  });

  it("say recovered: false when the history after `since` is gone", async () => {
    const offsets = await publishAndLearnOffsets("short-lived", 10, "s");
    const client = await connectClient(
      world.stack.wsUrl(await signToken({ sub: "gone", channels: ["short-*"] }, world.stack.jwtSecret)),
    );
    const answer = await subscribed(client, "short-lived", offsets[0]);
    expect(answer.recovered).toBe(false);
    await waitUntil(() => channelMessages(client, "short-lived").length >= 3, { timeoutMs: 10_000 });
    expect(channelMessages(client, "short-lived").map((m) => m.id)).toEqual(["s-7", "s-8", "s-9"]);
    await client.close();
  });

  it("recover through a connector kill -9: the SDK resubscribes from its last offset and the app sees each message once", async () => {
    const balancer = await startBalancer(() => world.stack.connectors.map((c) => c.port));
    const handled: string[] = [];
    const client = new HeraldClient({
      url: `ws://127.0.0.1:${balancer.port}/ws`,
      token: () => signToken({ sub: "survivor", channels: ["chat-*"] }, world.stack.jwtSecret),
      WebSocket: WebSocket as never,
      reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
    });
    client.on("error", () => {});
    const ready = new Promise<void>((resolve) => client.on("subscribed", () => resolve()));
    client.subscribe("chat-crash", (m) => {
      handled.push(m.id);
    });
    await client.connect();
    // A subscription without `since` starts at the channel's end as of the subscribe.
    await ready;
    const publishing = (async () => {
      for (let i = 0; i < 300; i++) {
        await world.backend.publish(world.backend.s.sendChannel("chat-crash"), { data: i, id: `k-${i}` });
        if (i % 50 === 0) await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await waitUntil(() => handled.length >= 50, { timeoutMs: 20_000 });
    // Every connector dies, so whichever one the client was on is among them.
    await Promise.all(world.stack.connectors.map((c) => c.kill()));
    await Promise.all(world.stack.connectors.map((c) => c.restart()));
    await Promise.all(world.stack.connectors.map((c) => c.waitReady()));
    await publishing;
    await waitUntil(() => new Set(handled).size >= 300, {
      timeoutMs: 30_000,
      message: () =>
        `300 handled; got ${new Set(handled).size}, offset ${client.channelOffset("chat-crash")}`,
    });
    expect(handled).toEqual(Array.from({ length: 300 }, (_, i) => `k-${i}`));
    await client.close();
    await balancer.close();
  });

  it("do not leak: an unauthorised channel is refused and none of its messages arrive", async () => {
    const client = await connectClient(
      world.stack.wsUrl(await signToken({ sub: "nosy", channels: ["chat-*"] }, world.stack.jwtSecret)),
    );
    client.send({ type: "subscribe", channel: "admin-alerts" });
    const error = await client.waitFor((f) => f.type === "error" && f.code === "forbidden");
    expect(error).toMatchObject({ code: "forbidden" });
    client.send({ type: "subscribe", channel: "chat.*" });
    await client.waitFor((f) => f.type === "error" && f.code === "invalid_channel");
    client.send({ type: "subscribe", channel: ">" });
    await waitUntil(
      () => client.frames.filter((f) => f.type === "error" && f.code === "invalid_channel").length >= 2,
    );
    await world.backend.publish(world.backend.s.sendChannel("admin-alerts"), { data: "secret", id: "a-1" });
    await world.backend.toUser("someone-else", { data: "private", id: "p-1" });
    await world.backend.publish(world.backend.s.sendChannel("chat-x"), { data: "marker", id: "x-1" });
    await subscribed(client, "chat-x", 0);
    await waitUntil(() => channelMessages(client, "chat-x").length >= 1);
    expect(client.frames.some((f) => f.type === "message" && (f.id === "a-1" || f.id === "p-1"))).toBe(false);
    await client.close();
  });
});

describe("private channels", () => {
  it("need a subscription token for this user and channel, and refuse an expired one", async () => {
    const client = await connectClient(
      world.stack.wsUrl(await signToken({ sub: "vip", channels: ["private-*"] }, world.stack.jwtSecret)),
    );
    client.send({ type: "subscribe", channel: "private-room" });
    await client.waitFor((f) => f.type === "error" && f.code === "forbidden");
    const othersToken = await signSubscriptionToken(
      { sub: "someone", channel: "private-room" },
      world.stack.jwtSecret,
    );
    client.send({ type: "subscribe", channel: "private-room", token: othersToken });
    await waitUntil(
      () => client.frames.filter((f) => f.type === "error" && f.code === "forbidden").length >= 2,
    );
    const expired = await signSubscriptionToken(
      { sub: "vip", exp: "-10s", channel: "private-room" },
      world.stack.jwtSecret,
    );
    client.send({ type: "subscribe", channel: "private-room", token: expired });
    await client.waitFor((f) => f.type === "error" && f.code === "token_expired");
    const good = await signSubscriptionToken(
      { sub: "vip", exp: "5m", channel: "private-room" },
      world.stack.jwtSecret,
    );
    client.send({ type: "subscribe", channel: "private-room", token: good });
    await client.waitFor((f) => f.type === "subscribed" && f.channel === "private-room");
    await world.backend.publish(world.backend.s.sendChannel("private-room"), { data: "psst", id: "pr-1" });
    await client.waitFor((f) => f.type === "message" && f.id === "pr-1");
    await client.close();
  });
});

describe("broadcast", () => {
  it("reaches every connected device on every connector", async () => {
    const clients = await Promise.all(
      [0, 1, 2, 0].map(async (i, n) =>
        connectClient(world.stack.wsUrl(await signToken({ sub: `all${n}` }, world.stack.jwtSecret), i)),
      ),
    );
    await world.backend.publish(world.backend.s.sendBroadcast, {
      data: { notice: "maintenance" },
      id: "bc-1",
    });
    for (const c of clients) {
      const frame = await c.waitFor<ChannelMessageFrame>((f) => f.type === "message" && f.id === "bc-1");
      expect(frame).toMatchObject({ channel: "$broadcast", data: { notice: "maintenance" } });
    }
    await Promise.all(clients.map((c) => c.close()));
  });
});
