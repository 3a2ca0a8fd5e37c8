import { type Span, SpanKind, SpanStatusCode, TraceFlags } from "@opentelemetry/api";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { core, resources, tracing } from "@opentelemetry/sdk-node";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { serializeSpans } from "./otlp-spans.js";
import {
  followsParent,
  hrTimeAfter,
  type RecordedSpan,
  recorderAllowed,
  SpanRecorder,
} from "./span-recorder.js";
import { parseTraceparent } from "./traceparent.js";

type ReadableSpan = tracing.ReadableSpan;

const resource = resources.resourceFromAttributes({ "service.name": "herald-test" });
const scope = { name: "herald" };
const PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

function recorder(followParent = true) {
  const ended: RecordedSpan[] = [];
  const r = new SpanRecorder({
    resource,
    instrumentationScope: scope,
    onEnd: (span) => ended.push(span),
    followParent,
  });
  return { r, ended };
}

/** The same calls on a span of the SDK's own tracer, for comparison. */
function sdkTracer() {
  const exporter = new tracing.InMemorySpanExporter();
  const provider = new tracing.BasicTracerProvider({
    resource,
    spanProcessors: [new tracing.SimpleSpanProcessor(exporter)],
  });
  return { tracer: provider.getTracer("herald"), exporter };
}

function exercise(span: Span): void {
  span.setAttribute("messaging.message.id", "m1");
  span.setAttributes({ "herald.duplicate": false, skipped: undefined as unknown as string });
  span.addEvent("herald.stored", { "herald.seq": 7, "messaging.destination.name": "herald.mbox.u1" });
  span.addEvent("herald.ack_received");
  span.setStatus({ code: SpanStatusCode.ERROR, message: "write failed" });
  span.setStatus({ code: SpanStatusCode.UNSET });
  span.end();
  span.setAttribute("after.end", 1);
  span.end();
}

describe("SpanRecorder", () => {
  it("records what the SDK's span records for the same calls", async () => {
    const { r, ended } = recorder();
    const parent = parseTraceparent(PARENT);
    exercise(r.start("herald.router.route", SpanKind.CONSUMER, { "herald.seq": 3 }, parent));
    const { tracer, exporter } = sdkTracer();
    const { trace, ROOT_CONTEXT } = await import("@opentelemetry/api");
    exercise(
      tracer.startSpan(
        "herald.router.route",
        { kind: SpanKind.CONSUMER, attributes: { "herald.seq": 3 } },
        trace.setSpanContext(ROOT_CONTEXT, parent!),
      ),
    );
    const [ours] = ended;
    const [sdk] = exporter.getFinishedSpans();
    expect(ended).toHaveLength(1);
    const view = (s: ReadableSpan | RecordedSpan) => ({
      name: s.name,
      kind: s.kind,
      traceId: s.spanContext().traceId,
      traceFlags: s.spanContext().traceFlags,
      parent: s.parentSpanContext,
      attributes: s.attributes,
      events: s.events.map((e) => ({ name: e.name, attributes: e.attributes })),
      status: s.status,
      links: s.links,
      dropped: [s.droppedAttributesCount, s.droppedEventsCount, s.droppedLinksCount],
    });
    expect(view(ours!)).toEqual(view(sdk!));
    expect(ours!.spanContext().spanId).toMatch(/^[0-9a-f]{16}$/);
  });

  it("is read by the SDK's own serializer as by Herald's, byte for byte", () => {
    const { r, ended } = recorder();
    exercise(
      r.start("herald.connector.deliver", SpanKind.PRODUCER, { "herald.seq": 1 }, parseTraceparent(PARENT)),
    );
    exercise(r.start("herald.persistence.cursor", SpanKind.CONSUMER, {}, undefined));
    const spans = ended as unknown as ReadableSpan[];
    expect(Buffer.from(serializeSpans(spans))).toEqual(
      Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!),
    );
  });

  it("takes its times from the wall clock at the start, then the monotonic clock", () => {
    const { r, ended } = recorder();
    const before = Date.now();
    const span = r.start("s", SpanKind.INTERNAL, {}, undefined);
    span.addEvent("e");
    span.end();
    const after = Date.now();
    const ms = ([s, ns]: [number, number]) => s * 1000 + ns / 1e6;
    const s = ended[0]!;
    expect(ms(s.startTime)).toBeGreaterThanOrEqual(before);
    expect(ms(s.events[0]!.time)).toBeGreaterThanOrEqual(ms(s.startTime));
    expect(ms(s.endTime)).toBeGreaterThanOrEqual(ms(s.events[0]!.time));
    expect(ms(s.endTime)).toBeLessThanOrEqual(after + 1);
    expect(s.endTime[1]).toBeLessThan(1e9);
  });

  it("follows an unsampled parent with a non-recording span, unless the sampler is always_on", () => {
    const unsampled = parseTraceparent(PARENT.replace(/-01$/, "-00"));
    const { r, ended } = recorder(true);
    const span = r.start("s", SpanKind.INTERNAL, {}, unsampled);
    expect(span.isRecording()).toBe(false);
    expect(span.spanContext().traceId).toBe(unsampled?.traceId);
    expect(span.spanContext().traceFlags).toBe(TraceFlags.NONE);
    span.end();
    expect(ended).toHaveLength(0);
    const always = recorder(false);
    always.r.start("s", SpanKind.INTERNAL, {}, unsampled).end();
    expect(always.ended[0]?.spanContext().traceFlags).toBe(TraceFlags.SAMPLED);
  });

  it("starts a new trace under an invalid or missing parent", () => {
    const { r, ended } = recorder();
    const zero = { traceId: "0".repeat(32), spanId: "1".repeat(16), traceFlags: 1 };
    r.start("s", SpanKind.INTERNAL, {}, zero).end();
    r.start("s", SpanKind.INTERNAL, {}, undefined).end();
    for (const s of ended) {
      expect(s.parentSpanContext).toBeUndefined();
      expect(s.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(s.spanContext().traceId).not.toBe(zero.traceId);
    }
  });

  it("records an exception as the SDK's exception event", () => {
    const { r, ended } = recorder();
    const span = r.start("s", SpanKind.INTERNAL, {}, undefined);
    span.recordException(new TypeError("bad"));
    span.end();
    expect(ended[0]?.events[0]?.name).toBe("exception");
    expect(ended[0]?.events[0]?.attributes).toMatchObject({
      "exception.type": "TypeError",
      "exception.message": "bad",
    });
  });
});

describe("span ids", () => {
  it("gives lowercase hex trace and span ids of the right length, all different", () => {
    const { r } = recorder();
    const ids = new Set<string>();
    for (let i = 0; i < 2_500; i++) {
      const { traceId, spanId } = r.start("s", SpanKind.INTERNAL, {}, undefined).spanContext();
      expect(spanId).toMatch(/^[0-9a-f]{16}$/);
      expect(traceId).toMatch(/^[0-9a-f]{32}$/);
      ids.add(spanId).add(traceId);
    }
    expect(ids.size).toBe(5_000);
  });
});

describe("recorderAllowed", () => {
  it("allows the default sampler and always_on, and nothing with a span limit or another sampler", () => {
    expect(recorderAllowed({})).toBe(true);
    expect(recorderAllowed({ OTEL_TRACES_SAMPLER: "always_on" })).toBe(true);
    expect(followsParent({ OTEL_TRACES_SAMPLER: "always_on" })).toBe(false);
    expect(followsParent({})).toBe(true);
    expect(recorderAllowed({ OTEL_TRACES_SAMPLER: "traceidratio" })).toBe(false);
    expect(recorderAllowed({ OTEL_TRACES_SAMPLER: "parentbased_traceidratio" })).toBe(false);
    expect(recorderAllowed({ OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: "2" })).toBe(false);
    expect(recorderAllowed({ OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: "10" })).toBe(false);
    expect(recorderAllowed({ OTEL_SPAN_EVENT_COUNT_LIMIT: "" })).toBe(true);
  });
});

describe("hrTimeAfter", () => {
  it("adds a monotonic offset to the start as the SDK does, the carry of a second included", () => {
    const epochMs = fc.double({ min: 1.6e12, max: 2.2e12, noNaN: true });
    const offsetMs = fc.oneof(
      fc.double({ min: 0, max: 1e7, noNaN: true }),
      fc.constantFrom(0, 999.9999999, 1000),
    );
    fc.assert(
      fc.property(epochMs, offsetMs, (start, offset) => {
        const sdk = core.addHrTimes(core.millisToHrTime(start), core.millisToHrTime(offset));
        expect(hrTimeAfter(start, offset)).toEqual(sdk);
      }),
      { numRuns: 2_000 },
    );
    // A start at .9 s and an offset of .2 s carry into the next second.
    expect(hrTimeAfter(1_700_000_000_900, 200)).toEqual([1_700_000_001, 100_000_000]);
  });
});
