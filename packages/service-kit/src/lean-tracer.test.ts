import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { headers } from "@nats-io/transport-node";
import { context, propagation, trace } from "@opentelemetry/api";
import { afterAll, describe, expect, it } from "vitest";
import {
  BatchExporter,
  type LeanConfig,
  LeanTracer,
  leanConfig,
  parseTraceparent,
  StorageContextManager,
  samplerFrom,
  TraceparentPropagator,
} from "./lean-tracer.js";
import { encodeJson, encodeProtobuf, type SpanRecord } from "./otlp-encode.js";

const TRACE = "0af7651916cd43dd8448eb211c80319c";
const PARENT = "b7ad6b7169203331";

/** A protobuf wire-format reader: field number → values (varint as number, fixed64 as bigint, bytes). */
type Fields = Map<number, (number | bigint | Buffer)[]>;
function decode(buf: Buffer): Fields {
  const fields: Fields = new Map();
  let pos = 0;
  const varint = () => {
    let result = 0;
    let scale = 1;
    for (;;) {
      const b = buf[pos++] ?? 0;
      result += (b & 0x7f) * scale;
      scale *= 128;
      if (b < 0x80) return result;
    }
  };
  while (pos < buf.length) {
    const key = varint();
    const wire = key & 7;
    let value: number | bigint | Buffer;
    if (wire === 0) value = varint();
    else if (wire === 1) {
      value = buf.readBigUInt64LE(pos);
      pos += 8;
    } else if (wire === 2) {
      const length = varint();
      value = buf.subarray(pos, pos + length);
      pos += length;
    } else throw new Error(`unexpected wire type ${wire}`);
    fields.set(key >> 3, [...(fields.get(key >> 3) ?? []), value]);
  }
  return fields;
}
const one = (f: Fields, n: number) => f.get(n)?.[0];
const sub = (f: Fields, n: number) => decode(one(f, n) as Buffer);
const text = (f: Fields, n: number) => (one(f, n) as Buffer | undefined)?.toString("utf8");
const hexOf = (f: Fields, n: number) => (one(f, n) as Buffer | undefined)?.toString("hex");
function attributes(f: Fields, n: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of (f.get(n) ?? []) as Buffer[]) {
    const pair = decode(kv);
    const any = sub(pair, 2);
    out[text(pair, 1) ?? ""] = any.has(1) ? text(any, 1) : any.has(2) ? one(any, 2) === 1 : one(any, 3);
  }
  return out;
}

const record = (overrides: Partial<SpanRecord> = {}): SpanRecord => ({
  name: "herald.router.route",
  kind: 5,
  traceId: TRACE,
  spanId: "00f067aa0ba902b7",
  parentSpanId: PARENT,
  traceState: undefined,
  startMs: 1_765_000_000_123.456,
  endMs: 1_765_000_000_125.5,
  attributes: { "herald.seq": 42, "herald.duplicate": false, "messaging.message.id": "m-1" },
  statusCode: 0,
  statusMessage: undefined,
  ...overrides,
});

describe("OTLP encoding", () => {
  it("writes an ExportTraceServiceRequest a protobuf reader takes apart field by field", () => {
    const long = "ü".repeat(200);
    const body = encodeProtobuf({ "service.name": "herald-router" }, "herald", [
      record(),
      record({ spanId: "1111111111111111", parentSpanId: "", statusCode: 2, statusMessage: long }),
    ]);
    const resourceSpans = sub(decode(body), 1);
    expect(attributes(sub(resourceSpans, 1), 1)).toEqual({ "service.name": "herald-router" });
    const scopeSpans = sub(resourceSpans, 2);
    expect(text(sub(scopeSpans, 1), 1)).toBe("herald");
    const [first, second] = (scopeSpans.get(2) as Buffer[]).map(decode);
    expect(hexOf(first!, 1)).toBe(TRACE);
    expect(hexOf(first!, 2)).toBe("00f067aa0ba902b7");
    expect(hexOf(first!, 4)).toBe(PARENT);
    expect(text(first!, 5)).toBe("herald.router.route");
    expect(one(first!, 6)).toBe(5);
    expect(Number(one(first!, 7) as bigint) / 1e6).toBeCloseTo(1_765_000_000_123.456, 3);
    expect(Number((one(first!, 8) as bigint) - (one(first!, 7) as bigint))).toBeCloseTo(2_044_000, -3);
    expect(attributes(first!, 9)).toEqual({
      "herald.seq": 42,
      "herald.duplicate": false,
      "messaging.message.id": "m-1",
    });
    expect(first!.has(15)).toBe(false);
    expect(second!.has(4)).toBe(false);
    const status = sub(second!, 15);
    expect(one(status, 3)).toBe(2);
    expect(text(status, 2)).toBe(long);
  });

  it("writes the same spans as OTLP/JSON", () => {
    const json = JSON.parse(encodeJson({ "service.name": "s" }, "herald", [record()]));
    const span = json.resourceSpans[0].scopeSpans[0].spans[0];
    expect(span).toMatchObject({
      traceId: TRACE,
      parentSpanId: PARENT,
      kind: 5,
      name: "herald.router.route",
    });
    expect(span.attributes).toContainEqual({ key: "herald.seq", value: { intValue: "42" } });
    expect(BigInt(span.endTimeUnixNano) - BigInt(span.startTimeUnixNano)).toBe(2_044_000n);
  });
});

describe("lean tracer configuration", () => {
  it("covers OTLP over HTTP with the standard samplers, and leaves the rest to the SDK", () => {
    const config = leanConfig(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/",
        OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20abc,x-a=1",
        OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=prod,service.name=ignored",
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "100",
      },
      "router",
    );
    expect(config).toMatchObject({
      url: "http://collector:4318/v1/traces",
      protocol: "http/protobuf",
      headers: { authorization: "Bearer abc", "x-a": "1" },
      maxBatch: 100,
      maxQueue: 2048,
      resource: { "service.name": "herald-router", "deployment.environment": "prod" },
    });
    expect(
      leanConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://c/t", OTEL_SERVICE_NAME: "x" }, "r"),
    ).toMatchObject({ url: "https://c/t", resource: { "service.name": "x" } });
    for (const env of [
      { OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" },
      { OTEL_TRACES_EXPORTER: "console" },
      { OTEL_TRACES_EXPORTER: "otlp,console" },
      { OTEL_PROPAGATORS: "b3" },
      { OTEL_EXPORTER_OTLP_COMPRESSION: "gzip" },
      { OTEL_TRACES_SAMPLER: "jaeger_remote" },
    ]) {
      expect(leanConfig(env, "r"), JSON.stringify(env)).toBeUndefined();
    }
  });

  it("samples as the standard samplers do", () => {
    const parentBased = samplerFrom(undefined, undefined)!;
    expect([parentBased(true, TRACE), parentBased(false, TRACE), parentBased(undefined, TRACE)]).toEqual([
      true,
      false,
      true,
    ]);
    const none = samplerFrom("traceidratio", "0")!;
    const all = samplerFrom("traceidratio", "1")!;
    expect([none(true, TRACE), all(false, TRACE)]).toEqual([false, true]);
    const half = samplerFrom("parentbased_traceidratio", "0.5")!;
    const ids = Array.from({ length: 2000 }, (_, i) => (i * 2654435761).toString(16).padStart(32, "0"));
    const share = ids.filter((id) => half(undefined, id)).length / ids.length;
    expect(share).toBeGreaterThan(0.4);
    expect(share).toBeLessThan(0.6);
    expect(half(true, ids[0]!)).toBe(true);
  });

  it("reads only valid W3C traceparent values", () => {
    expect(parseTraceparent(`00-${TRACE}-${PARENT}-01`)).toEqual({
      traceId: TRACE,
      spanId: PARENT,
      sampled: true,
      traceState: undefined,
    });
    expect(parseTraceparent(`00-${TRACE.toUpperCase()}-${PARENT}-00`)?.sampled).toBe(false);
    for (const bad of [
      "",
      "garbage",
      `00-${"0".repeat(32)}-${PARENT}-01`,
      `00-${TRACE}-${"0".repeat(16)}-01`,
    ]) {
      expect(parseTraceparent(bad)).toBeUndefined();
    }
  });
});

describe("lean tracer export", () => {
  const received: { headers: IncomingHttpHeaders; body: Buffer }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.end();
    });
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("posts spans in batches of maxBatch, on shutdown the rest, and drops past maxQueue", async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const config = leanConfig(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        OTEL_EXPORTER_OTLP_TRACES_HEADERS: "x-key=k",
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "3",
        OTEL_BSP_MAX_QUEUE_SIZE: "5",
        OTEL_BSP_SCHEDULE_DELAY: "60000",
      },
      "test",
    ) as LeanConfig;
    const exporter = new BatchExporter(config);
    const tracer = new LeanTracer(exporter, config.sampler);
    const parent = parseTraceparent(`00-${TRACE}-${PARENT}-01`);
    for (let i = 0; i < 7; i++) tracer.start(`s${i}`, 4, { i }, parent).end();
    // 3 posted at once, 2 waiting: the queue (waiting + in flight) is full, so the last 2 are dropped.
    expect(exporter.dropped).toBe(2);
    await exporter.shutdown();
    expect(exporter.exported).toBe(5);
    expect(received.map((r) => r.headers["content-type"])).toEqual([
      "application/x-protobuf",
      "application/x-protobuf",
    ]);
    expect(received[0]!.headers["x-key"]).toBe("k");
    const names = received.flatMap((r) =>
      (sub(sub(decode(r.body), 1), 2).get(2) as Buffer[]).map((s) => text(decode(s), 5)),
    );
    expect(names).toEqual(["s0", "s1", "s2", "s3", "s4"]);
  });

  it("does not export an unsampled span, but hands its context on", () => {
    const added: SpanRecord[] = [];
    const tracer = new LeanTracer(
      { add: (r: SpanRecord) => added.push(r) } as unknown as BatchExporter,
      () => false,
    );
    const span = tracer.start("x", 0, {}, parseTraceparent(`00-${TRACE}-${PARENT}-00`));
    span.end();
    expect(added).toEqual([]);
    expect(span.traceparent()).toMatch(new RegExp(`^00-${TRACE}-[0-9a-f]{16}-00$`));
  });
});

describe("lean tracer with the API", () => {
  it("propagates W3C trace context and keeps the active span for log lines", () => {
    const tracer = new LeanTracer({ add: () => {} } as unknown as BatchExporter, () => true);
    context.setGlobalContextManager(new StorageContextManager());
    propagation.setGlobalPropagator(new TraceparentPropagator());
    const h = headers();
    h.set("traceparent", `00-${TRACE}-${PARENT}-01`);
    h.set("tracestate", "vendor=1");
    const getter = { keys: () => [], get: (_: unknown, k: string) => h.get(k) || undefined };
    const ctx = propagation.extract(context.active(), h, getter);
    const span = tracer.startSpan("child", {}, ctx);
    expect(span.spanContext()).toMatchObject({ traceId: TRACE, traceFlags: 1 });
    const out: Record<string, string> = {};
    propagation.inject(trace.setSpan(context.active(), span), out);
    expect(out).toEqual({
      traceparent: `00-${TRACE}-${span.spanContext().spanId}-01`,
      tracestate: "vendor=1",
    });
    const active = context.with(trace.setSpan(context.active(), span), () => trace.getActiveSpan());
    expect(active).toBe(span);
    expect(trace.getActiveSpan()).toBeUndefined();
    context.disable();
  });
});
