import { headers } from "@nats-io/transport-node";
import { propagation, trace } from "@opentelemetry/api";
import { core, tracing } from "@opentelemetry/sdk-node";
import { describe, expect, it } from "vitest";
import {
  endSpan,
  markTracingEnabled,
  SpanKind,
  startSpan,
  traceHeaders,
  traceparentHeader,
  traceparentHeaders,
  traceparentOf,
  tracingEnabled,
} from "./tracing.js";

const TRACE = "0af7651916cd43dd8448eb211c80319c";
const PARENT = "b7ad6b7169203331";

describe("message-path tracing helpers", () => {
  it("do nothing while tracing is off", () => {
    expect(tracingEnabled()).toBe(false);
    const h = headers();
    h.set("traceparent", `00-${TRACE}-${PARENT}-01`);
    expect(startSpan("x", h, SpanKind.CONSUMER, {})).toBeUndefined();
    expect(traceparentHeader(h)).toBeUndefined();
    expect(traceHeaders(undefined)).toBeUndefined();
    expect(traceparentHeaders(`00-${TRACE}-${PARENT}-01`)).toBeUndefined();
  });

  it("continue a W3C trace from NATS headers (any case) and hand it on in headers and strings", async () => {
    const exporter = new tracing.InMemorySpanExporter();
    const provider = new tracing.BasicTracerProvider({
      spanProcessors: [new tracing.SimpleSpanProcessor(exporter)],
    });
    trace.setGlobalTracerProvider(provider);
    propagation.setGlobalPropagator(new core.W3CTraceContextPropagator());
    markTracingEnabled(() => provider.shutdown());

    const incoming = headers();
    incoming.set("Traceparent", `00-${TRACE}-${PARENT}-01`);
    expect(traceparentHeader(incoming)).toBe(`00-${TRACE}-${PARENT}-01`);
    const first = startSpan("first", incoming, SpanKind.CONSUMER, { "herald.seq": 7 });
    const outgoing = traceHeaders(first);
    const carried = traceparentOf(first);
    expect(outgoing?.get("traceparent")).toBe(carried);
    // An internal string handed on in headers as it is, when valid; nothing for a broken one.
    expect(traceparentHeaders(carried)?.get("traceparent")).toBe(carried);
    expect(traceparentHeaders("00-not-a-trace-01")).toBeUndefined();
    expect(traceparentHeaders(undefined)).toBeUndefined();
    const second = startSpan("second", carried, SpanKind.CONSUMER, {});
    const third = startSpan("third", outgoing, SpanKind.CONSUMER, {});
    endSpan(third, new Error("boom"));
    endSpan(second);
    endSpan(first);

    const spans = exporter.getFinishedSpans();
    const byName = Object.fromEntries(spans.map((s) => [s.name, s]));
    expect(spans.every((s) => s.spanContext().traceId === TRACE)).toBe(true);
    expect(byName.first?.parentSpanContext?.spanId).toBe(PARENT);
    expect(byName.second?.parentSpanContext?.spanId).toBe(first?.spanContext().spanId);
    expect(byName.third?.parentSpanContext?.spanId).toBe(first?.spanContext().spanId);
    expect(byName.third?.status.code).toBe(2);
    expect(byName.first?.attributes["herald.seq"]).toBe(7);
    // No parent: a new trace.
    const root = startSpan("root", undefined, SpanKind.CONSUMER, {});
    expect(root?.spanContext().traceId).not.toBe(TRACE);
    endSpan(root);

    // Internal `traceparent` strings stay W3C whatever the global propagator is (OTEL_PROPAGATORS=b3, say).
    propagation.setGlobalPropagator(new core.CompositePropagator({ propagators: [] }));
    markTracingEnabled(() => provider.shutdown(), { w3c: new core.W3CTraceContextPropagator() });
    const internal = traceparentOf(first);
    expect(internal).toBe(`00-${TRACE}-${first?.spanContext().spanId}-01`);
    // Headers for the next hop as a span's own would be.
    expect(traceparentHeaders(internal)?.get("traceparent")).toBe(traceHeaders(first)?.get("traceparent"));
    const fourth = startSpan("fourth", internal, SpanKind.CONSUMER, {});
    expect(fourth?.spanContext().traceId).toBe(TRACE);
    endSpan(fourth);
    expect(exporter.getFinishedSpans().find((s) => s.name === "fourth")?.parentSpanContext?.spanId).toBe(
      first?.spanContext().spanId,
    );
    await provider.shutdown();
  });
});
