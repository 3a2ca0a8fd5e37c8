import { describe, expect, it } from "vitest";
import { backoffDelay } from "./backoff.js";
import { ClosedError } from "./errors.js";
import { useHarness } from "./test-support/harness.js";
import { expectQuiet, waitFor } from "./test-support/wait.js";
import type { ChannelMessage } from "./types.js";

const h = useHarness();
/** Zero backoff: a reconnect that should not happen would happen at once, so a short quiet window proves it. */
const noDelay = { random: () => 0 };

describe("HeraldClient reconnect", () => {
  it("reconnects after the server closes, and resubscribes channels from the last offset", async () => {
    const server = await h.server();
    const { client, events } = h.client(server, noDelay);
    const news: ChannelMessage[] = [];
    client.subscribe("news", (message) => void news.push(message));
    await client.connect();
    const first = await server.connection(1);
    expect(await first.waitForFrame("subscribe")).toEqual({ type: "subscribe", channel: "news" });
    first.send({ type: "subscribed", channel: "news", recovered: true });
    first.channelMessage("news", 5);
    first.channelMessage("news", 6);
    await waitFor(() => news.length === 2, "two channel messages");
    expect(client.channelOffset("news")).toBe(6);

    first.close(1012, "service restart");
    const second = await server.connection(2);
    expect(await second.waitForFrame("subscribe")).toEqual({ type: "subscribe", channel: "news", since: 6 });
    second.send({ type: "subscribed", channel: "news", recovered: true });
    second.channelMessage("news", 6); // overlap with what came before: dropped
    second.channelMessage("news", 7);
    await waitFor(() => news.length === 3, "the message after the gap");
    expect(news.map((message) => message.offset)).toEqual([5, 6, 7]);
    expect(news[2]).toEqual({
      id: "news-7",
      channel: "news",
      offset: 7,
      data: { offset: 7 },
      ts: 1_700_000_000_000,
    });
    expect(events.subscribed).toEqual([
      { channel: "news", recovered: true },
      { channel: "news", recovered: true },
    ]);
    expect(events.disconnected).toEqual([
      { code: 1012, reason: "service restart", willReconnect: true, delayMs: 0 },
    ]);
    expect(events.states).toEqual(["connecting", "connected", "disconnected", "connecting", "connected"]);
    expect(events.connected.map((event) => event.connectionId)).toEqual(["conn-1", "conn-2"]);
  });

  it("after a reconnect, acks redelivered messages it already handled without calling the handler", async () => {
    const server = await h.server();
    // A long batching delay keeps the ack unsent when the connection drops: the server redelivers m1.
    const { client } = h.client(server, { ...noDelay, ackDelayMs: 60_000 });
    const handled: string[] = [];
    client.on("message", (message) => void handled.push(message.id));
    await client.connect();
    const first = await server.connection(1);
    first.message("m1", 1);
    await waitFor(() => handled.length === 1, "m1 handled");
    first.close(1012);
    const second = await server.connection(2);
    await waitFor(() => client.connection?.connectionId === "conn-2", "the second welcome");
    second.message("m1", 1);
    second.message("m2", 2);
    await waitFor(() => handled.length === 2, "m2 handled");
    await client.close(); // flushes the batch
    expect(first.ackedIds()).toEqual([]);
    expect(second.ackedIds()).toEqual(["m1", "m2"]);
    expect(handled).toEqual(["m1", "m2"]);
  });

  it("forgets a channel the server ended with `unsubscribed`, and does not resubscribe it on reconnect", async () => {
    const server = await h.server();
    const { client } = h.client(server, noDelay);
    const ended: unknown[] = [];
    client.on("unsubscribed", (event) => void ended.push(event));
    client.subscribe("keep", () => {});
    client.subscribe("drop", () => {});
    await client.connect();
    const first = await server.connection(1);
    await waitFor(() => first.framesOf("subscribe").length === 2, "two subscribe frames");
    first.send({ type: "unsubscribed", channel: "drop", code: "forbidden", message: "no longer allowed" });
    await waitFor(() => ended.length === 1, "the unsubscribed event");
    expect(ended).toEqual([{ channel: "drop", code: "forbidden", message: "no longer allowed" }]);
    first.close(1012, "service restart");
    const second = await server.connection(2);
    expect(await second.waitForFrame("subscribe")).toEqual({ type: "subscribe", channel: "keep" });
    await expectQuiet(() => second.framesOf("subscribe").length > 1, "a resubscription of the ended channel");
  });

  it("sends subscribe/unsubscribe on a live connection and unsubscribes only after the last handler", async () => {
    const server = await h.server();
    const { client } = h.client(server);
    await client.connect();
    const connection = await server.connection(1);
    const offA = client.subscribe("alerts", () => {}, { since: 41 });
    const offB = client.subscribe("alerts", () => {});
    expect(await connection.waitForFrame("subscribe")).toEqual({
      type: "subscribe",
      channel: "alerts",
      since: 41,
    });
    offA();
    offB();
    expect(await connection.waitForFrame("unsubscribe")).toEqual({ type: "unsubscribe", channel: "alerts" });
    expect(connection.framesOf("subscribe")).toHaveLength(1);
    expect(client.channelOffset("alerts")).toBeUndefined();
  });

  it("does not reconnect after close(), and close() resolves once the socket is closed", async () => {
    const server = await h.server();
    const { client, events } = h.client(server, noDelay);
    await client.connect();
    const connection = await server.connection(1);
    await client.close();
    expect(client.state).toBe("closed");
    expect(events.disconnected).toEqual([{ code: 1000, reason: "client closed", willReconnect: false }]);
    expect(await connection.waitForClose()).toEqual({ code: 1000, reason: "client closed" });
    await expectQuiet(() => server.connections.length > 1, "a reconnect after close()");
    await expect(client.connect()).rejects.toBeInstanceOf(ClosedError);
    await client.close(); // idempotent
  });

  it("flushes pending acks before closing", async () => {
    const server = await h.server();
    const { client } = h.client(server, { ackDelayMs: 60_000 });
    let handled = false;
    client.on("message", () => {
      handled = true;
    });
    await client.connect();
    const connection = await server.connection(1);
    connection.message("m1", 1);
    await waitFor(() => handled, "the handler");
    await expectQuiet(() => connection.ackedIds().length > 0, "an ack before the long batching delay", 30);
    await client.close();
    await connection.waitForAck("m1");
  });

  it("gives up on a connection that is never welcomed, and retries", async () => {
    const server = await h.server({ welcome: false });
    const { client, events } = h.client(server, { ...noDelay, welcomeTimeoutMs: 50 });
    void client.connect().catch(() => {});
    await server.connection(2);
    expect(events.disconnected[0]).toMatchObject({ code: 1006, reason: "no welcome within 50 ms" });
  });

  it("backs off with full jitter: growing windows, capped, reset once a connection is stable", async () => {
    let welcome = false;
    const server = await h.server({
      authorize: () => (welcome ? undefined : { code: 1013, reason: "try later" }),
    });
    const reconnect = { initialDelayMs: 4, maxDelayMs: 16, stableAfterMs: 30 };
    const { client, events } = h.client(server, { reconnect, random: () => 0.5 });
    void client.connect();
    await waitFor(() => events.disconnected.length >= 4, "four failed attempts");
    welcome = true;
    const expected = [0, 1, 2, 3].map((attempt) => backoffDelay(attempt, reconnect, () => 0.5));
    expect(expected).toEqual([2, 4, 8, 8]);
    expect(events.disconnected.slice(0, 4).map((event) => event.delayMs)).toEqual(expected);
    await waitFor(() => client.state === "connected", "a welcomed connection");
    const count = events.disconnected.length;
    // Stable for longer than stableAfterMs: the next failure starts from the first window again.
    await expectQuiet(() => client.state !== "connected", "an early drop", 60);
    server.connections.at(-1)?.close(1012);
    await waitFor(() => events.disconnected.length === count + 1, "the next disconnect");
    expect(events.disconnected.at(-1)?.delayMs).toBe(2);
  });

  it("close() during backoff stops the pending reconnect", async () => {
    const server = await h.server({ authorize: () => ({ code: 1013, reason: "try later" }) });
    const { client, events } = h.client(server, { reconnect: { initialDelayMs: 200, maxDelayMs: 200 } });
    const connecting = client.connect();
    await waitFor(
      () => client.state === "disconnected" && events.disconnected.length === 1,
      "the first failure",
    );
    await client.close();
    await expect(connecting).rejects.toBeInstanceOf(ClosedError);
    expect(client.state).toBe("closed");
    await expectQuiet(() => server.connections.length > 1, "the pending reconnect", 300);
  });
});
