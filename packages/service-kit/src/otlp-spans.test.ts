import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { core, resources, tracing } from "@opentelemetry/sdk-node";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  batchProcessorFromEnv,
  EncodingSpanProcessor,
  OtlpProtobufSpanExporter,
  otlpProtobufRequested,
} from "./otlp-exporter.js";
import { EncodedSpan, encodeSpan, serializeSpans } from "./otlp-spans.js";

type ReadableSpan = tracing.ReadableSpan;

/** The official encoder's bytes: the SDK's `@opentelemetry/otlp-transformer` serializer. */
const official = (spans: ReadableSpan[]) => Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!);
const ours = (spans: ReadableSpan[]) => Buffer.from(serializeSpans(spans));

const hex = (length: number) =>
  fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: length, maxLength: length });
const text = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 20 }), // lone surrogates included
  fc.string({ minLength: 100, maxLength: 20_000 }),
);
const scalar = fc.oneof(
  text,
  fc.boolean(),
  fc.integer(),
  fc.constantFrom(0, -1, 2 ** 32, 2 ** 53 + 2, -(2 ** 63), 2 ** 63, 2 ** 62, 0.5, Number.NaN, Infinity),
  fc.double(),
  fc.uint8Array({ maxLength: 40 }),
  fc.constant(undefined),
);
const value = fc.oneof(
  { weight: 8, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(scalar, { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), scalar, { maxKeys: 3 }) },
);
const attrs = fc.dictionary(fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom("0", "7", "a")), value, {
  maxKeys: 6,
});
const time = fc.tuple(fc.nat(2 ** 34), fc.nat(999_999_999));
const traceState = fc.option(fc.constantFrom("a=1", "vendor=x,other=y"), { nil: undefined });
const context = fc.record({
  traceId: hex(32),
  spanId: hex(16),
  traceFlags: fc.nat(255),
  isRemote: fc.option(fc.boolean(), { nil: undefined }),
  traceState: traceState.map((s) => (s ? new core.TraceState(s) : undefined)),
});

const resourceList = [
  resources.resourceFromAttributes({ "service.name": "herald-test", "host.name": "h", n: 3 }),
  resources.resourceFromAttributes({ "service.name": "other" }),
];
const scopeList = [{ name: "herald" }, { name: "other", version: "1.2.3", schemaUrl: "https://x/y" }];

const span = fc
  .record({
    name: text,
    kind: fc.constantFrom(SpanKind.INTERNAL, SpanKind.CONSUMER, SpanKind.PRODUCER, SpanKind.CLIENT),
    ctx: context,
    parent: fc.option(context, { nil: undefined }),
    startTime: time,
    endTime: time,
    status: fc.record({
      code: fc.constantFrom(SpanStatusCode.UNSET, SpanStatusCode.OK, SpanStatusCode.ERROR),
      message: fc.option(text, { nil: undefined }),
    }),
    attributes: attrs,
    events: fc.array(
      fc.record({
        name: text,
        time,
        attributes: fc.option(attrs, { nil: undefined }),
        droppedAttributesCount: fc.option(fc.nat(5), { nil: undefined }),
      }),
      { maxLength: 3 },
    ),
    links: fc.array(
      fc.record({
        context,
        attributes: fc.option(attrs, { nil: undefined }),
        droppedAttributesCount: fc.option(fc.nat(5), { nil: undefined }),
      }),
      { maxLength: 2 },
    ),
    resource: fc.nat(1),
    scope: fc.nat(1),
    dropped: fc.tuple(fc.nat(3), fc.nat(300), fc.nat(3)),
  })
  .map(
    (s) =>
      ({
        name: s.name,
        kind: s.kind,
        spanContext: () => s.ctx,
        parentSpanContext: s.parent,
        startTime: s.startTime,
        endTime: s.endTime,
        status: s.status,
        attributes: s.attributes,
        events: s.events,
        links: s.links,
        duration: [0, 0],
        ended: true,
        resource: resourceList[s.resource]!,
        instrumentationScope: scopeList[s.scope]!,
        droppedAttributesCount: s.dropped[0],
        droppedEventsCount: s.dropped[1],
        droppedLinksCount: s.dropped[2],
      }) as unknown as ReadableSpan,
  );

describe("serializeSpans", () => {
  it("writes exactly the bytes of the SDK's OTLP protobuf serializer, whatever the spans hold", () => {
    fc.assert(
      fc.property(fc.array(span, { maxLength: 12 }), (spans) => {
        expect(ours(spans).equals(official(spans))).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it("gives the same bytes for spans encoded as they end, across slabs, mixed with spans not yet encoded", () => {
    // Long strings push spans past a slab's room, so some keep a grown buffer of their own.
    fc.assert(
      fc.property(fc.array(fc.tuple(span, fc.boolean()), { maxLength: 30 }), (pairs) => {
        const spans = pairs.map(([s]) => s);
        const mixed = pairs.map(([s, early]) => (early ? (encodeSpan(s) as unknown as ReadableSpan) : s));
        expect(ours(mixed).equals(official(spans))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("is what the batch processor gets from EncodingSpanProcessor, with OTEL_BSP_* read as NodeSDK does", async () => {
    const batches: Buffer[] = [];
    const exporter: tracing.SpanExporter = {
      export: (items, done) => {
        batches.push(Buffer.from(serializeSpans(items)));
        expect(items.every((i) => i instanceof EncodedSpan)).toBe(true);
        done({ code: 0 });
      },
      shutdown: () => Promise.resolve(),
    };
    process.env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE = "2";
    process.env.OTEL_BSP_SCHEDULE_DELAY = "600000";
    const reference = new tracing.InMemorySpanExporter();
    try {
      const provider = new tracing.BasicTracerProvider({
        resource: resourceList[0]!,
        spanProcessors: [
          new EncodingSpanProcessor(batchProcessorFromEnv(exporter)),
          new tracing.SimpleSpanProcessor(reference),
        ],
        sampler: new tracing.ParentBasedSampler({ root: new tracing.AlwaysOnSampler() }),
      });
      const tracer = provider.getTracer("herald");
      const parent = tracer.startSpan("a", { attributes: { "herald.seq": 1 } });
      tracer.startSpan("b", {}, trace.setSpan(ROOT_CONTEXT, parent)).end();
      parent.end();
      // A batch of two, exported at once (not after the 10-minute delay).
      await new Promise((resolve) => setImmediate(resolve));
      expect(batches).toHaveLength(1);
      expect(batches[0]!.equals(official(reference.getFinishedSpans()))).toBe(true);
      // An unsampled span is neither encoded nor exported.
      const unsampled = trace.setSpanContext(ROOT_CONTEXT, {
        traceId: "1".repeat(32),
        spanId: "2".repeat(16),
        traceFlags: 0,
        isRemote: true,
      });
      tracer.startSpan("c", {}, unsampled).end();
      await provider.forceFlush();
      expect(batches).toHaveLength(1);
      await provider.shutdown();
    } finally {
      delete process.env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE;
      delete process.env.OTEL_BSP_SCHEDULE_DELAY;
    }
  });

  it("does so for the SDK's own spans, shaped as Herald's, in a batch larger than its first buffer", async () => {
    const exporter = new tracing.InMemorySpanExporter();
    const provider = new tracing.BasicTracerProvider({
      resource: resourceList[0]!,
      spanProcessors: [new tracing.SimpleSpanProcessor(exporter)],
    });
    const tracer = provider.getTracer("herald");
    for (let i = 0; i < 2_000; i++) {
      const route = tracer.startSpan("herald.router.route", {
        kind: SpanKind.CONSUMER,
        attributes: { "herald.stream": "INTAKE", "herald.seq": i, "messaging.message.id": `m${i}` },
      });
      route.addEvent("herald.stored", {
        "herald.stream": "MAILBOX",
        "herald.seq": i,
        "herald.duplicate": false,
      });
      const deliver = tracer.startSpan(
        "herald.connector.deliver",
        { kind: SpanKind.PRODUCER, attributes: { "herald.device_id": "d" } },
        trace.setSpan(ROOT_CONTEXT, route),
      );
      if (i % 7 === 0) deliver.setStatus({ code: SpanStatusCode.ERROR, message: "connection closed" });
      deliver.end();
      route.end();
    }
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(4_000);
    expect(ours(spans).equals(official(spans))).toBe(true);
    await provider.shutdown();
  });

  it("is sent by the SDK's exporter as an OTLP/HTTP protobuf request, where the OTEL_* variables say", async () => {
    const requests: { url: string | undefined; type: string | undefined; body: Buffer }[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        requests.push({ url: req.url, type: req.headers["content-type"], body: Buffer.concat(chunks) });
        res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const saved = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const exporter = new OtlpProtobufSpanExporter();
      const spans = fc.sample(span, { numRuns: 20, seed: 17 });
      const result = await new Promise<{ code: number }>((resolve) => exporter.export(spans, resolve));
      expect(result.code).toBe(0); // ExportResultCode.SUCCESS
      expect(requests).toHaveLength(1);
      expect(requests[0]).toMatchObject({ url: "/v1/traces", type: "application/x-protobuf" });
      expect(requests[0]!.body.equals(official(spans))).toBe(true);
      await exporter.shutdown();
    } finally {
      if (saved === undefined) delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
      else process.env.OTEL_EXPORTER_OTLP_ENDPOINT = saved;
      server.close();
    }
  });

  it("replaces the SDK's encoder only for OTLP over http/protobuf, as the SDK reads the variables", () => {
    expect(otlpProtobufRequested({})).toBe(true);
    expect(
      otlpProtobufRequested({ OTEL_TRACES_EXPORTER: "otlp", OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf" }),
    ).toBe(true);
    expect(otlpProtobufRequested({ OTEL_EXPORTER_OTLP_PROTOCOL: " " })).toBe(true);
    expect(otlpProtobufRequested({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" })).toBe(false);
    expect(otlpProtobufRequested({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toBe(false);
    expect(
      otlpProtobufRequested({
        OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/protobuf",
      }),
    ).toBe(true);
    expect(otlpProtobufRequested({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json" })).toBe(false);
    expect(otlpProtobufRequested({ OTEL_TRACES_EXPORTER: "console" })).toBe(false);
    expect(otlpProtobufRequested({ OTEL_TRACES_EXPORTER: "otlp,zipkin" })).toBe(false);
  });
});
