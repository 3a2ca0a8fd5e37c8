import { headers as natsHeaders } from "@nats-io/transport-node";
import {
  defaultTextMapGetter,
  defaultTextMapSetter,
  propagation,
  ROOT_CONTEXT,
  type SpanContext,
  trace,
} from "@opentelemetry/api";
import { core, tracing } from "@opentelemetry/sdk-node";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { onlyTraceContext } from "./telemetry.js";
import { formatTraceparent, parseTraceparent } from "./traceparent.js";
import {
  endSpan,
  extractTraceparent,
  markTracingEnabled,
  SpanKind,
  startSpan,
  traceHeaders,
} from "./tracing.js";

const w3c = new core.W3CTraceContextPropagator();
const exporter = new tracing.InMemorySpanExporter();
const provider = new tracing.BasicTracerProvider({
  spanProcessors: [new tracing.SimpleSpanProcessor(exporter)],
});
trace.setGlobalTracerProvider(provider);
propagation.setGlobalPropagator(w3c);
afterAll(() => provider.shutdown());

const hexOf = (length: number, chars = "0123456789abcdef") =>
  fc.string({ unit: fc.constantFrom(...chars), minLength: length, maxLength: length });
/** Hex runs that are valid, all zeros, or with an uppercase or non-hex character. */
const idOf = (length: number) =>
  fc.oneof(
    { weight: 6, arbitrary: hexOf(length) },
    { weight: 1, arbitrary: fc.constant("0".repeat(length)) },
    { weight: 1, arbitrary: hexOf(length, "0123456789abcdefABCDEFg") },
  );

/** `traceparent` values near the valid ones: other versions, padding, suffixes, and one character changed. */
const traceparents = fc
  .record({
    version: fc.oneof(
      { weight: 6, arbitrary: fc.constant("00") },
      { weight: 1, arbitrary: idOf(2) },
      fc.constant("ff"),
    ),
    traceId: idOf(32),
    spanId: idOf(16),
    flags: idOf(2),
    suffix: fc.constantFrom("", "", "", "-", "-x", "-00"),
    before: fc.constantFrom("", "", "", " ", "\t", "  "),
    after: fc.constantFrom("", "", "", " ", "\n", "  "),
    edit: fc.option(fc.tuple(fc.nat(60), fc.constantFrom("-", "0", "a", "A", " ", "z", "é")), { freq: 4 }),
  })
  .map(({ version, traceId, spanId, flags, suffix, before, after, edit }) => {
    const s = `${before}${version}-${traceId}-${spanId}-${flags}${suffix}${after}`;
    if (!edit) return s;
    const at = edit[0] % s.length;
    return s.slice(0, at) + edit[1] + s.slice(at + 1);
  });

function viaPropagator(traceparent: string): SpanContext | undefined {
  return trace.getSpanContext(w3c.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter));
}

describe("W3C traceparent without the propagator", () => {
  it("reads every value as the SDK's W3C propagator does", () => {
    markTracingEnabled(() => provider.shutdown(), { w3c, headersW3c: true });
    fc.assert(
      fc.property(traceparents, (value) => {
        expect(trace.getSpanContext(extractTraceparent(value))).toEqual(viaPropagator(value));
        // The fast parser takes only what the propagator accepts, with the same result.
        const fast = parseTraceparent(value);
        if (fast) expect(fast).toEqual(viaPropagator(value));
      }),
      { numRuns: 20_000 },
    );
  });

  it("writes what the SDK's W3C propagator writes", () => {
    const contexts = fc.record({
      traceId: idOf(32),
      spanId: idOf(16),
      traceFlags: fc.oneof(fc.constantFrom(0, 1), fc.integer({ min: 0, max: 255 })),
    });
    fc.assert(
      fc.property(contexts, (context) => {
        const carrier: Record<string, string> = {};
        w3c.inject(trace.setSpanContext(ROOT_CONTEXT, context), carrier, defaultTextMapSetter);
        expect(formatTraceparent(context)).toBe(carrier.traceparent);
      }),
      { numRuns: 20_000 },
    );
  });

  it("continues and hands on NATS headers exactly as the global propagator does", () => {
    const names = fc.constantFrom(
      "traceparent",
      "Traceparent",
      "TRACEPARENT",
      "tracestate",
      "Tracestate",
      "x-other",
    );
    const headerSets = fc.array(
      fc.tuple(names, fc.oneof(traceparents, fc.constantFrom("k=v", "a=1,b=2", ""))),
      {
        maxLength: 4,
      },
    );
    const run = (fast: boolean, entries: [string, string][]) => {
      markTracingEnabled(() => provider.shutdown(), { w3c, headersW3c: fast });
      const h = natsHeaders();
      // NATS header values hold no line breaks and are stored trimmed.
      for (const [k, v] of entries) if (v.trim() !== "" && !/[\r\n]/.test(v)) h.append(k, v);
      const span = startSpan("s", h, SpanKind.CONSUMER, {});
      const out = traceHeaders(span);
      const recording = span!.isRecording();
      endSpan(span);
      // An unsampled parent gives a non-recording span, never exported.
      const finished = exporter.getFinishedSpans().at(-1);
      exporter.reset();
      const { traceId, spanId, traceFlags, traceState } = span!.spanContext();
      const parent = finished?.parentSpanContext;
      const continued = parent !== undefined || !recording;
      return {
        parent,
        recording,
        traceId: continued ? traceId : "<new>",
        traceFlags,
        state: traceState?.serialize(),
        // New ids each run (the span's, and the trace's without a parent): compare the rest of what is handed on.
        traceparent: out
          ?.get("traceparent")
          .replace(spanId, "<span>")
          .replace(traceId, continued ? traceId : "<new>"),
        tracestate: out?.get("tracestate"),
      };
    };
    fc.assert(
      fc.property(headerSets, (entries) => {
        const fast = run(true, entries);
        const generic = run(false, entries);
        expect(fast).toEqual(generic);
        // A continued trace keeps its id; the new span's id is in the header handed on.
        if (fast.parent) expect(fast.traceparent).toContain(`-${fast.parent.traceId}-<span>-`);
        if (fast.traceId === "<new>") expect(fast.traceparent).toMatch(/^00-<new>-<span>-01$/);
      }),
      { numRuns: 3_000 },
    );
  });

  it("is used for NATS headers only when OTEL_PROPAGATORS names W3C trace context alone", () => {
    expect(onlyTraceContext("tracecontext")).toBe(true);
    expect(onlyTraceContext(" tracecontext , tracecontext,")).toBe(true);
    expect(onlyTraceContext("tracecontext,baggage")).toBe(false);
    expect(onlyTraceContext("b3")).toBe(false);
    expect(onlyTraceContext("none")).toBe(false);
    expect(onlyTraceContext("")).toBe(false);
  });
});
