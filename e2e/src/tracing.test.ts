import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { promisify } from "node:util";
import { userToken } from "@herald/protocol";
import {
  connectClient,
  type NatsServer,
  natsServiceEnv,
  repoRoot,
  type Stack,
  signToken,
  startNatsServer,
  startStack,
  waitUntil,
} from "@herald/testkit";
import type { MsgHdrs } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Backend, connectBackend } from "./support/backend.js";
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from "./support/otlp-receiver.js";

// One message, one trace: the services run as `node apps/<name>/dist/main.js` with the standard OTEL_*
// variables only, exporting OTLP/HTTP (protobuf, then JSON) to a receiver in this process.

let receiver: OtlpReceiver;
let nats: NatsServer;
let stack: Stack;
let backend: Backend;

/**
 * Both OTLP/HTTP encodings: protobuf is the default (and has Herald's own span recorder and encoder behind
 * it), JSON goes through the SDK's spans and serializer.
 */
const PROTOCOLS = ["http/protobuf", "http/json"] as const;

function startTracedStack(protocol: (typeof PROTOCOLS)[number]): void {
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    nats = await startNatsServer();
    stack = await startStack({
      nats,
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        OTEL_BSP_SCHEDULE_DELAY: "100",
      },
    });
    backend = await connectBackend(nats);
  });

  afterAll(async () => {
    await backend?.close();
    await stack?.stop();
    await nats?.dispose();
    await receiver?.close();
  });
}

/** The hops of one user message, parent first, and the service each belongs to. */
const HOPS = [
  ["herald.router.route", "herald-router"],
  ["herald.connector.deliver", "herald-connector"],
  ["herald.persistence.cursor", "herald-persistence"],
] as const;

const hex = (bytes: number) => randomBytes(bytes).toString("hex");

/** Publishes `id` to `user` (with the headers given), lets a device receive and ack it, waits for the receipt. */
async function deliverAndAck(user: string, id: string, headers?: MsgHdrs, connectFirst = true) {
  const receiptHeaders: (MsgHdrs | undefined)[] = [];
  const sub = backend.nc.subscribe(backend.s.receipt(userToken(user)), {
    callback: (_err, msg) => {
      if ((msg.json() as { id?: unknown }).id === id) receiptHeaders.push(msg.headers);
    },
  });
  // Through the router (`send.users`), so the trace has every hop; a single-user send skips the router and
  // its trace starts with the publisher's span (`traceparent`) at the connector.
  const publish = () =>
    backend.js.publish(
      backend.s.sendUsers,
      JSON.stringify({ userIds: [user], id, data: { secret: "payload-text" } }),
      headers ? { headers } : {},
    );
  // Published before the device connects, the message reaches it by replay rather than live.
  if (!connectFirst) await publish();
  const client = await connectClient(
    stack.wsUrl(await signToken({ sub: user, did: "phone" }, stack.jwtSecret)),
  );
  try {
    if (connectFirst) await publish();
    // This message, not an earlier one of the same device: cursors follow acks by up to
    // PERSISTENCE_CURSOR_DELAY, so a device back within it is replayed its last acked message once more.
    await client.waitFor((frame) => frame.type === "message" && frame.id === id);
    client.ack([id]);
    await waitUntil(() => receiptHeaders.length > 0, { timeoutMs: 10_000, message: "the receipt" });
    return receiptHeaders[0];
  } finally {
    sub.unsubscribe();
    await client.close();
  }
}

/** Waits until every hop of message `id` was exported, and returns them in hop order. */
async function hopsOf(id: string): Promise<ReceivedSpan[]> {
  const find = () =>
    HOPS.map(([name]) =>
      receiver.spans.find((s) => s.name === name && s.attributes["messaging.message.id"] === id),
    );
  await waitUntil(() => find().every(Boolean), {
    timeoutMs: 15_000,
    message: () =>
      `every hop of ${id}; got ${JSON.stringify(receiver.spans.map((s) => s.name))}, rejected ${receiver.rejected}`,
  });
  return find() as ReceivedSpan[];
}

function expectChain(spans: ReceivedSpan[], traceId: string, rootParent: string) {
  spans.forEach((span, i) => {
    const [name, service] = HOPS[i]!;
    expect(span.name).toBe(name);
    expect(span.service).toBe(service);
    expect(span.traceId).toBe(traceId);
    expect(span.parentSpanId, `${name}'s parent`).toBe(i === 0 ? rootParent : spans[i - 1]!.spanId);
  });
}

describe.each(PROTOCOLS)("tracing (OTEL_EXPORTER_OTLP_ENDPOINT set, %s)", (protocol) => {
  startTracedStack(protocol);

  it("continues a publisher's traceparent through every service: one message, one trace", async () => {
    const traceId = hex(16);
    const parentId = hex(8);
    const h = backend.headers();
    h.set("traceparent", `00-${traceId}-${parentId}-01`);
    const receiptHeaders = await deliverAndAck("tracy", "traced-1", h);

    const spans = await hopsOf("traced-1");
    expectChain(spans, traceId, parentId);
    // The receipt carries the trace on, for a backend that consumes receipts: it leaves with the ack, before
    // the cursor write behind it, so it continues the delivery's span.
    expect(receiptHeaders?.get("traceparent")).toBe(`00-${traceId}-${spans[1]!.spanId}-01`);
    // The mailbox write is an event of the route span, with where it was stored.
    const stored = spans[0]!.events.find((e) => e.name === "herald.stored");
    expect(stored?.attributes).toMatchObject({ "herald.stream": "HERALD_MBOX", "herald.duplicate": false });
    // The delivery span runs from the socket write to the stored ack; the client's ack is an event within it.
    const deliver = spans[1]!;
    const ack = deliver.events.find((e) => e.name === "herald.ack_received");
    expect(ack, "the ack's event").toBeDefined();
    expect(ack!.time >= deliver.start && ack!.time <= deliver.end).toBe(true);
    expect(spans[2]!.start >= ack!.time).toBe(true);
    // Positions, never payloads or tokens.
    expect(stored!.attributes["herald.seq"]).toBeGreaterThan(0);
    expect(spans[1]!.attributes["herald.seq"]).toBe(stored!.attributes["herald.seq"]);
    expect(spans[2]!.attributes["herald.seq"]).toBe(stored!.attributes["herald.seq"]);
    expect(spans[2]!.attributes["herald.device_id"]).toBe("phone");
    const every = JSON.stringify(receiver.spans, (_key, v) => (typeof v === "bigint" ? String(v) : v));
    expect(every).not.toContain("payload-text");
    expect(every).not.toContain("eyJ");
  }, 60_000);

  it("ends a delivery's span as failed when its connection closes before the ack", async () => {
    const traceId = hex(16);
    const h = backend.headers();
    h.set("traceparent", `00-${traceId}-${hex(8)}-01`);
    const client = await connectClient(
      stack.wsUrl(await signToken({ sub: "leaver", did: "phone" }, stack.jwtSecret)),
    );
    try {
      await backend.js.publish(
        backend.s.sendUsers,
        JSON.stringify({ userIds: ["leaver"], id: "unacked-1", data: 1 }),
        { headers: h },
      );
      await client.waitForMessages(1);
    } finally {
      await client.close();
    }
    const find = () =>
      receiver.spans.find((s) => s.name === "herald.connector.deliver" && s.traceId === traceId);
    await waitUntil(() => find() !== undefined, {
      timeoutMs: 15_000,
      message: "the unacked delivery's span",
    });
    expect(find()!.status).toEqual({ code: 2, message: "connection closed" });
    expect(find()!.events).toEqual([]);
  }, 60_000);

  it("keeps the trace on a message that reaches the device by replay, and on a channel message", async () => {
    const traceId = hex(16);
    const parentId = hex(8);
    const h = backend.headers();
    h.set("traceparent", `00-${traceId}-${parentId}-01`);
    await deliverAndAck("later", "replayed-1", h, false);
    expectChain(await hopsOf("replayed-1"), traceId, parentId);

    const channelTrace = hex(16);
    const ch = backend.headers();
    ch.set("traceparent", `00-${channelTrace}-${hex(8)}-01`);
    const client = await connectClient(
      stack.wsUrl(await signToken({ sub: "watcher", channels: ["news"] }, stack.jwtSecret)),
    );
    try {
      client.send({ type: "subscribe", channel: "news" });
      await client.waitFor((f) => f.type === "subscribed");
      await backend.js.publish(backend.s.sendChannel("news"), JSON.stringify({ id: "news-1", data: 1 }), {
        headers: ch,
      });
      await client.waitFor((f) => f.type === "message");
    } finally {
      await client.close();
    }
    const names = ["herald.router.route", "herald.connector.send"];
    const find = () =>
      names.map((name) => receiver.spans.find((s) => s.name === name && s.traceId === channelTrace));
    await waitUntil(() => find().every(Boolean), {
      timeoutMs: 15_000,
      message: "the channel message's spans",
    });
    const [route, send] = find() as ReceivedSpan[];
    expect(route!.events.find((e) => e.name === "herald.stored")?.attributes).toMatchObject({
      "messaging.destination.name": expect.stringContaining("news"),
    });
    expect(send!.parentSpanId).toBe(route!.spanId);
    expect(send!.attributes).toMatchObject({ "herald.channel": "news", "messaging.message.id": "news-1" });
  }, 60_000);

  it("starts a trace at intake when the publisher sends none, with the trace id on the message's log lines", async () => {
    await deliverAndAck("untraced", "root-1");
    const spans = await hopsOf("root-1");
    expectChain(spans, spans[0]!.traceId, "");
    expect(
      receiver.spans.filter((s) => s.attributes["messaging.message.id"] === "root-1").map((s) => s.traceId),
    ).toEqual(
      Array(receiver.spans.filter((s) => s.attributes["messaging.message.id"] === "root-1").length).fill(
        spans[0]!.traceId,
      ),
    );

    // A rejected publish: the router's log line about it names its trace.
    await backend.publish(backend.s.sendUsers, "{not json");
    await waitUntil(
      () => stack.routers[0]!.logRecords().some((r) => r.msg === "dead-lettered intake message"),
      { timeoutMs: 10_000, message: "the dead-letter log line" },
    );
    const line = stack.routers[0]!.logRecords().find((r) => r.msg === "dead-lettered intake message")!;
    expect(line).toMatchObject({ service: "router", trace_id: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(typeof line.instance).toBe("string");
    await waitUntil(
      () =>
        receiver.spans.some(
          (s) => s.traceId === line.trace_id && s.attributes["herald.dead_reason"] === "invalid_json",
        ),
      { timeoutMs: 10_000, message: "the dead letter's route span" },
    );

    // `herald dead replay` continues the rejected publish's trace (still invalid, it is rejected again).
    const first = receiver.spans.find(
      (s) => s.traceId === line.trace_id && s.name === "herald.router.route",
    )!;
    const replay = await promisify(execFile)(
      process.execPath,
      [join(repoRoot, "packages/cli/dist/main.js"), "dead", "replay", "--reason", "invalid_json"],
      { env: { PATH: process.env.PATH ?? "", NATS_URL: nats.url, ...natsServiceEnv(nats, "operator") } },
    );
    expect(replay.stdout).toContain("1 replayed");
    await waitUntil(
      () => receiver.spans.some((s) => s.name === "herald.router.route" && s.parentSpanId === first.spanId),
      { timeoutMs: 10_000, message: "the replayed letter's route span under the first one" },
    );
  }, 60_000);

  it("puts a traced message's trace id on the latency histograms as an exemplar, in OpenMetrics scrapes", async () => {
    const scrape = async (url: string, accept?: string) => {
      const res = await fetch(`${url}/metrics`, accept ? { headers: { accept } } : {});
      return res.text();
    };
    const om = "application/openmetrics-text; version=1.0.0";
    const lines = (text: string, name: string) =>
      text.split("\n").filter((l) => l.startsWith(`${name}_bucket`));
    // A bucket's exemplar is replaced at most once a second, so an earlier test's message may hold it: traced
    // messages are sent until one of them shows on each histogram (a deadline, not a sleep).
    const traceIds: string[] = [];
    const ours = (line: string) => traceIds.some((id) => line.includes(`# {trace_id="${id}"} `));
    await waitUntil(
      async () => {
        const traceId = hex(16);
        traceIds.push(traceId);
        const h = backend.headers();
        h.set("traceparent", `00-${traceId}-${hex(8)}-01`);
        await deliverAndAck("exemplary", `exemplar-${traceIds.length}`, h);
        const router = await scrape(stack.routers[0]!.adminUrl, om);
        const connector = await scrape(stack.connectors[0]!.adminUrl, om);
        return (
          lines(router, "herald_router_intake_lag_seconds").some(ours) &&
          lines(router, "herald_router_routing_duration_seconds").some(ours) &&
          lines(connector, "herald_connector_live_lag_seconds").some(
            (l) => l.includes('kind="user"') && ours(l),
          )
        );
      },
      {
        timeoutMs: 30_000,
        intervalMs: 200,
        message: "a traced message's exemplar on every latency histogram",
      },
    );
    const exemplar = /# \{trace_id="[0-9a-f]{32}"\} [0-9.e-]+ [0-9.]+$/;
    const router = await scrape(stack.routers[0]!.adminUrl, om);
    expect(
      lines(router, "herald_router_intake_lag_seconds")
        .filter(ours)
        .every((l) => exemplar.test(l)),
    ).toBe(true);
    // A Prometheus-text scrape is unchanged: no exemplars, counters keep `_total`.
    const plain = await scrape(stack.routers[0]!.adminUrl);
    expect(plain).not.toContain("trace_id");
    expect(plain).toContain("herald_router_routed_messages_total{");
  }, 60_000);
});
