import { Match, type MsgHdrs, headers as natsHeaders } from "@nats-io/transport-node";
import {
  type Attributes,
  type Context,
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  trace,
} from "@opentelemetry/api";

export { type Span, SpanKind };

/**
 * Message-path tracing on top of `@opentelemetry/api` only (the SDK is loaded by `boot.ts` when an `OTEL_*`
 * exporter variable is set). Every helper returns at once while tracing is off, so the message path pays one
 * boolean test per hook, not a no-op span and a header lookup.
 */
let enabled = false;
let flush: (() => Promise<void>) | undefined;
/** Reads and writes the `traceparent` strings of internal bodies: always W3C, whatever `OTEL_PROPAGATORS` says. */
let internal: TextMapPropagator = propagation;

export function tracingEnabled(): boolean {
  return enabled;
}

/**
 * Called by the SDK start-up (`telemetry.ts`); `shutdown` flushes buffered spans on drain; `w3c` (the SDK's
 * W3C trace-context propagator) handles internal `traceparent` strings, the global propagator otherwise.
 */
export function markTracingEnabled(shutdown: () => Promise<void>, w3c?: TextMapPropagator): void {
  enabled = true;
  flush = shutdown;
  if (w3c) internal = w3c;
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

const tracer = () => trace.getTracer("herald");

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
  return tracer().startSpan(name, { kind, attributes }, contextOf(parent));
}

function contextOf(parent: MsgHdrs | string | Span | undefined): Context {
  if (parent === undefined) return ROOT_CONTEXT;
  if (typeof parent === "string")
    return internal.extract(ROOT_CONTEXT, { traceparent: parent }, defaultTextMapGetter);
  if ("spanContext" in parent) return trace.setSpan(ROOT_CONTEXT, parent);
  return propagation.extract(ROOT_CONTEXT, parent, natsHeaderGetter);
}

/** Marks `span` as failed by `err`. */
export function failSpan(span: Span | undefined, err: unknown): void {
  span?.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
}

/** Ends `span`, marked as failed when `err` is given. */
export function endSpan(span: Span | undefined, err?: unknown): void {
  if (!span) return;
  if (err !== undefined) failSpan(span, err);
  span.end();
}

/** `headers` (new ones when undefined) carrying `span`'s context to the next hop; as given without a span. */
export function traceHeaders(span: Span | undefined, headers?: MsgHdrs): MsgHdrs | undefined {
  if (!span) return headers;
  const h = headers ?? natsHeaders();
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), h, natsHeaderSetter);
  return h;
}

/** `span`'s context as a `traceparent` value, for internal bodies that bundle many messages in one. */
export function traceparentOf(span: Span | undefined): string | undefined {
  if (!span) return undefined;
  const carrier: Record<string, string> = {};
  internal.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, defaultTextMapSetter);
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
