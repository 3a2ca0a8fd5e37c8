import { Match, type MsgHdrs, headers as natsHeaders } from "@nats-io/transport-node";
import {
  type Attributes,
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  trace,
} from "@opentelemetry/api";

import { type LeanSpan, type LeanTracer, type ParentRef, parseTraceparent } from "./lean-tracer.js";

export { type Span, SpanKind };

/**
 * Message-path tracing on top of `@opentelemetry/api` (the tracer, lean or the SDK, is started by `boot.ts` when
 * an `OTEL_*` exporter variable is set). Every helper returns at once while tracing is off, so the message path
 * pays one boolean test per hook, not a no-op span and a header lookup. With the lean tracer, spans, parents and
 * headers are handled directly, without the API's context objects.
 */
let enabled = false;
let flush: (() => Promise<void>) | undefined;
/** Set when the lean tracer runs: spans, parents and headers then skip the API's context objects. */
let lean: LeanTracer | undefined;

export function tracingEnabled(): boolean {
  return enabled;
}

/** Called by the SDK start-up (`telemetry.ts`); `shutdown` flushes buffered spans on drain. */
export function markTracingEnabled(shutdown: () => Promise<void>, leanTracer?: LeanTracer): void {
  enabled = true;
  flush = shutdown;
  lean = leanTracer;
}

/** Spans the lean tracer exported, dropped (queue full) and failed to export; undefined without it. */
export function tracingStats(): { exported: number; dropped: number; failed: number } | undefined {
  return lean?.exporter;
}

/** Exports what is buffered; called last in a drain, so SIGTERM does not drop the final spans. */
export async function shutdownTracing(): Promise<void> {
  await flush?.().catch(() => {});
}

/** W3C trace context (`traceparent`, `tracestate`) in NATS message headers. */
export const natsHeaderGetter: TextMapGetter<MsgHdrs | undefined> = {
  keys: (carrier) => (carrier ? [...carrier.keys()] : []),
  // Case-insensitive: a publisher may write `Traceparent`.
  get: (carrier, key) => carrier?.get(key, Match.IgnoreCase) || undefined,
};

export const natsHeaderSetter: TextMapSetter<MsgHdrs> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

let cachedTracer: ReturnType<typeof trace.getTracer> | undefined;
const tracer = () => {
  cachedTracer ??= trace.getTracer("herald");
  return cachedTracer;
};

/**
 * Starts a span under `parent`: NATS headers (a publisher's or a previous hop's trace context), a `traceparent`
 * string carried in an internal body, or a span. Without a parent the span starts a new trace. Undefined while
 * tracing is off.
 */
export function startSpan(
  name: string,
  parent: MsgHdrs | string | Span | undefined,
  kind: SpanKind,
  attributes: Attributes,
): Span | undefined {
  if (!enabled) return undefined;
  if (lean)
    return lean.start(
      name,
      kind,
      attributes as Record<string, string | number | boolean>,
      leanParent(parent),
    );
  return tracer().startSpan(name, { kind, attributes }, contextOf(parent));
}

function leanParent(parent: MsgHdrs | string | Span | undefined): ParentRef | undefined {
  if (parent === undefined) return undefined;
  if (typeof parent === "string") return parseTraceparent(parent);
  if ("record" in parent) {
    const leanSpan = parent as LeanSpan;
    const { record } = leanSpan;
    return {
      traceId: record.traceId,
      spanId: record.spanId,
      sampled: leanSpan.isSampled(),
      traceState: record.traceState,
    };
  }
  if ("spanContext" in parent) {
    const sc = parent.spanContext();
    return {
      traceId: sc.traceId,
      spanId: sc.spanId,
      sampled: (sc.traceFlags & 1) === 1,
      traceState: sc.traceState?.serialize(),
    };
  }
  const traceparent = natsHeaderGetter.get(parent, "traceparent") as string | undefined;
  if (!traceparent) return undefined;
  return parseTraceparent(
    traceparent,
    (natsHeaderGetter.get(parent, "tracestate") as string | undefined) || undefined,
  );
}

function contextOf(parent: MsgHdrs | string | Span | undefined): Context {
  if (parent === undefined) return ROOT_CONTEXT;
  if (typeof parent === "string") return propagation.extract(ROOT_CONTEXT, { traceparent: parent });
  if ("spanContext" in parent) return trace.setSpan(ROOT_CONTEXT, parent);
  return propagation.extract(ROOT_CONTEXT, parent, natsHeaderGetter);
}

/** Ends `span`, marked as failed when `err` is given. */
export function endSpan(span: Span | undefined, err?: unknown): void {
  if (!span) return;
  if (err !== undefined) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  }
  span.end();
}

/** `headers` (new ones when undefined) carrying `span`'s context to the next hop; as given without a span. */
export function traceHeaders(span: Span | undefined, headers?: MsgHdrs): MsgHdrs | undefined {
  if (!span) return headers;
  const h = headers ?? natsHeaders();
  if (lean && "record" in span) {
    const leanSpan = span as LeanSpan;
    h.set("traceparent", leanSpan.traceparent());
    if (leanSpan.record.traceState) h.set("tracestate", leanSpan.record.traceState);
    return h;
  }
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), h, natsHeaderSetter);
  return h;
}

/** `span`'s context as a `traceparent` value, for internal bodies that bundle many messages in one. */
export function traceparentOf(span: Span | undefined): string | undefined {
  if (!span) return undefined;
  if (lean && "record" in span) return (span as LeanSpan).traceparent();
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
  return carrier.traceparent;
}

/** The `traceparent` header of a NATS message, read only while tracing is on. */
export function traceparentHeader(headers: MsgHdrs | undefined): string | undefined {
  if (!enabled || !headers) return undefined;
  return natsHeaderGetter.get(headers, "traceparent") as string | undefined;
}

/** Runs `fn` with `span` active, so log lines written meanwhile (and in its promises) carry its ids. */
export function withSpan<T>(span: Span | undefined, fn: () => T): T {
  if (!span) return fn();
  return context.with(trace.setSpan(context.active(), span), fn);
}
