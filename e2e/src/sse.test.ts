import { HeraldClient, type HeraldMessage, SSE_FALLBACK_AFTER, type TransportEvent } from "@herald/client";
import type { CursorReply } from "@herald/protocol";
import { signExpiredToken, signToken, waitUntil } from "@herald/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { scrapeMetric } from "./support/metrics.js";
import { useStack } from "./support/use-stack.js";

const MAX_PER_IP = 4;
const world = useStack({
  envFor: {
    connector: {
      HERALD_MAX_CONNECTIONS_PER_IP: String(MAX_PER_IP),
      HERALD_MAX_FRAME_BYTES: "4096",
      HERALD_RATE_LIMIT: "5",
      HERALD_RATE_BURST: "5",
    },
  },
});

const base = () => `http://127.0.0.1:${world.stack.connectors[0]!.port}/sse`;
const tokenFor = (sub: string, did = "laptop") => signToken({ sub, did }, world.stack.jwtSecret);
const clients: HeraldClient[] = [];
const streams: AbortController[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const s of streams.splice(0)) s.abort();
});

function sseClient(sub: string, options: { transport?: "auto" | "sse"; url?: string } = {}) {
  const client = new HeraldClient({
    url: options.url ?? world.stack.wsUrl(),
    token: () => tokenFor(sub),
    transport: options.transport ?? "sse",
    reconnect: { initialDelayMs: 50, maxDelayMs: 300 },
  });
  clients.push(client);
  const received: HeraldMessage[] = [];
  const transports: TransportEvent[] = [];
  client.on("message", (m) => void received.push(m));
  client.on("transport", (t) => void transports.push(t));
  client.on("error", () => {});
  return { client, received, transports };
}

async function cursorOf(userId: string, deviceId = "laptop") {
  const reply = await world.backend.request<CursorReply>(world.backend.s.cursorGet, { userId });
  return reply.devices.find((d) => d.deviceId === deviceId);
}

async function ticket(token: string): Promise<Response> {
  return fetch(`${base()}/ticket`, { method: "POST", headers: { Authorization: `Bearer ${token}` } });
}

/** Opens a raw event stream; returns its response and a reader of its frames (JSON) and close events. */
async function openStream(ticketValue: string) {
  const abort = new AbortController();
  streams.push(abort);
  const response = await fetch(`${base()}?ticket=${encodeURIComponent(ticketValue)}`, {
    signal: abort.signal,
  });
  const events: { event: string; data: unknown }[] = [];
  if (response.ok && response.body) {
    void (async () => {
      const decoder = new TextDecoder();
      let text = "";
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          text += decoder.decode(chunk, { stream: true });
          let end = text.indexOf("\n\n");
          while (end >= 0) {
            const block = text.slice(0, end);
            text = text.slice(end + 2);
            end = text.indexOf("\n\n");
            const data = block.split("\n").find((l) => l.startsWith("data: "));
            const event =
              block
                .split("\n")
                .find((l) => l.startsWith("event: "))
                ?.slice(7) ?? "message";
            if (data) events.push({ event, data: JSON.parse(data.slice(6)) });
          }
        }
      } catch {
        // Aborted by the test.
      }
    })();
  }
  return { response, events, abort };
}

/** A raw SSE connection of `sub`, welcomed; `post` sends one frame (bearer and connection id overridable). */
async function session(sub: string) {
  const token = await tokenFor(sub);
  const issued = (await (await ticket(token)).json()) as { ticket: string };
  const stream = await openStream(issued.ticket);
  await waitUntil(() => stream.events.length > 0, { timeoutMs: 10_000, message: "welcome" });
  const { connectionId } = stream.events[0]!.data as { connectionId: string };
  const post = (body: string, bearer = token, id = connectionId) =>
    fetch(`${base()}/${id}`, { method: "POST", headers: { Authorization: `Bearer ${bearer}` }, body });
  return { token, stream, post };
}

async function errorOf(response: Response) {
  return { status: response.status, ...((await response.json()) as { error: { code: string } }).error };
}

describe("SSE transport", () => {
  it("delivers in order and takes acks, saying it uses SSE", async () => {
    const { client, received, transports } = sseClient("sse-order");
    await client.connect();
    expect(client.transport).toBe("sse");
    expect(transports).toEqual([{ transport: "sse", fallback: false }]);
    for (let i = 0; i < 20; i++) await world.backend.toUser("sse-order", { data: { i }, id: `o-${i}` });
    await waitUntil(() => received.length >= 20, { timeoutMs: 15_000, message: "20 messages over SSE" });
    expect(received.map((m) => m.id)).toEqual(Array.from({ length: 20 }, (_, i) => `o-${i}`));
    const lastSeq = received.at(-1)!.seq;
    await waitUntil(async () => (await cursorOf("sse-order"))?.ackedSeq === lastSeq, {
      timeoutMs: 10_000,
      message: "the acks moved the device cursor",
    });
  });

  it("falls back to SSE by itself when the WebSocket cannot open", async () => {
    // Nothing answers WebSocket at /nows: the upgrade is refused (404), as a blocking proxy would.
    const wsBlocked = world.stack.wsUrl().replace(/\/ws$/, "/nows");
    const client = new HeraldClient({
      url: wsBlocked,
      sseUrl: base(),
      token: () => tokenFor("sse-fallback"),
      reconnect: { initialDelayMs: 50, maxDelayMs: 300 },
    });
    clients.push(client);
    const transports: TransportEvent[] = [];
    client.on("transport", (t) => void transports.push(t));
    client.on("error", () => {});
    await client.connect();
    expect(client.transport).toBe("sse");
    expect(transports[0]).toEqual({ transport: "websocket", fallback: false });
    expect(transports.at(-1)).toEqual({ transport: "sse", fallback: true });
  });

  it("keeps WebSocket through a connector outage once a WebSocket has worked, and falls back past it", async () => {
    const { client, received, transports } = sseClient("ws-sticky", { transport: "auto" });
    await client.connect();
    expect(client.transport).toBe("websocket");
    const connector = world.stack.connectors[0]!;
    await connector.kill();
    const before = transports.length;
    await waitUntil(() => transports.length >= before + SSE_FALLBACK_AFTER + 2, {
      timeoutMs: 15_000,
      message: "attempts while the connector is down",
    });
    // Before this rule the second attempt was already SSE, and the client stayed there after the restart.
    const during = transports.slice(before, before + SSE_FALLBACK_AFTER + 2).map((t) => t.transport);
    expect(during).toEqual([
      ...Array.from({ length: SSE_FALLBACK_AFTER }, () => "websocket"),
      "sse",
      "websocket",
    ]);
    await connector.restart();
    await connector.waitReady();
    await world.backend.toUser("ws-sticky", { data: {}, id: "back" });
    await waitUntil(() => received.some((m) => m.id === "back"), {
      timeoutMs: 15_000,
      message: "a message after the restart",
    });
  }, 60_000);

  it("loses nothing when its connector is killed with -9 mid-stream", async () => {
    const { client, received } = sseClient("sse-crash");
    await client.connect();
    const total = 60;
    for (let i = 0; i < total / 2; i++)
      await world.backend.toUser("sse-crash", { data: { i }, id: `c-${i}` });
    await waitUntil(() => received.length >= 5, {
      timeoutMs: 15_000,
      message: "some delivered before the kill",
    });
    await world.stack.connectors[0]!.kill();
    for (let i = total / 2; i < total; i++)
      await world.backend.toUser("sse-crash", { data: { i }, id: `c-${i}` });
    await world.stack.connectors[0]!.restart();
    await waitUntil(() => new Set(received.map((m) => m.id)).size >= total, {
      timeoutMs: 30_000,
      message: "every message after the restart",
    });
    // Each id once its first time, and those first times in publish order (a reconnect replays from the cursor).
    const firstSeen = [...new Set(received.map((m) => m.id))].map((id) => Number(id.slice(2)));
    expect(firstSeen).toEqual(Array.from({ length: total }, (_, i) => i));
  }, 60_000);

  it("refuses bad tokens and bad tickets with clear errors", async () => {
    expect(await errorOf(await fetch(`${base()}/ticket`, { method: "POST" }))).toMatchObject({
      status: 401,
      code: "unauthorized",
    });
    const expired = await signExpiredToken({ sub: "sse-bad" }, world.stack.jwtSecret);
    expect(await errorOf(await ticket(expired))).toMatchObject({ status: 401, code: "token_expired" });
    expect(await errorOf((await openStream("no-such-ticket")).response)).toMatchObject({
      status: 401,
      code: "unauthorized",
    });
    expect(await errorOf(await fetch(base()))).toMatchObject({ status: 401, code: "unauthorized" });

    const issued = (await (await ticket(await tokenFor("sse-bad"))).json()) as { ticket: string };
    const first = await openStream(issued.ticket);
    expect(first.response.status).toBe(200);
    expect(first.response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    // Single use: the same ticket again is refused.
    expect(await errorOf((await openStream(issued.ticket)).response)).toMatchObject({
      status: 401,
      code: "unauthorized",
    });
  });

  it("refuses POSTed frames that are too big, for another user, or for no connection", async () => {
    const { token, stream, post } = await session("sse-post");
    const tooBig = JSON.stringify({ type: "ack", ids: ["x".repeat(5_000)] });
    expect(await errorOf(await post(tooBig))).toMatchObject({ status: 413, code: "too_large" });
    expect(await errorOf(await post('{"type":"ack","ids":["a"]}', await tokenFor("mallory")))).toMatchObject({
      status: 403,
      code: "forbidden",
    });
    expect(await errorOf(await post("{}", token, "00000000-0000-0000-0000-000000000000"))).toMatchObject({
      status: 404,
      code: "not_found",
    });
    expect(await errorOf(await post("{}", "garbage"))).toMatchObject({ status: 401, code: "unauthorized" });
    // A bad frame is answered on the stream, like over WebSocket.
    expect((await post("not json")).status).toBe(202);
    await waitUntil(() => stream.events.some((e) => (e.data as { code?: string }).code === "invalid_json"), {
      timeoutMs: 5_000,
      message: "invalid_json error frame on the stream",
    });
  });

  it("applies the frame rate limit to POSTed frames: flooding ends the stream (4009)", async () => {
    const { stream, post } = await session("sse-flood");
    for (let i = 0; i < 30; i++) {
      const r = await post('{"type":"unsubscribe","channel":"news"}');
      if (r.status === 404) break; // the connection is gone
    }
    await waitUntil(() => stream.events.some((e) => e.event === "close"), {
      timeoutMs: 5_000,
      message: "close",
    });
    expect(stream.events.some((e) => (e.data as { code?: string }).code === "rate_limited")).toBe(true);
    expect(stream.events.find((e) => e.event === "close")?.data).toMatchObject({ code: 4009 });
  });

  it("counts SSE streams against the per-address connection limit", async () => {
    // The streams of earlier tests are gone first (the server hears of an aborted stream a moment later).
    await waitUntil(
      async () => (await scrapeMetric(world.stack.connectors[0]!, "herald_connector_connections")) === 0,
      {
        timeoutMs: 10_000,
        message: "no connection left from earlier tests",
      },
    );
    const token = await tokenFor("sse-limit");
    const open = [];
    for (let i = 0; i < MAX_PER_IP; i++) {
      const issued = (await (await ticket(token)).json()) as { ticket: string };
      open.push(await openStream(issued.ticket));
    }
    expect(open.map((s) => s.response.status)).toEqual(Array(MAX_PER_IP).fill(200));
    const issued = (await (await ticket(token)).json()) as { ticket: string };
    expect(await errorOf((await openStream(issued.ticket)).response)).toMatchObject({
      status: 429,
      code: "too_many_connections",
    });
  });
});
