import { Match, type MsgHdrs, headers as natsHeaders } from "@nats-io/transport-node";
import {
  type Attributes,
  type Context,
  context,
  defaultTextMapGetter,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import type { SpanRecorder } from "./span-recorder.js";
import { formatTraceparent, parseTraceparent } from "./traceparent.js";

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
/**
 * True when the global propagator is W3C trace context alone (`OTEL_PROPAGATORS=tracecontext`, Herald's
 * default): NATS headers are then read and written by `traceparent.ts` directly, the propagator only for what
 * that leaves to it (`tracestate`, unusual `traceparent` values).
 */
let headersW3c = false;
/** The SDK's tracer, fetched once: `trace.getTracer` looks it up by name and version on every call. */
let tracer: Tracer | undefined;
/** Makes the message path's spans in place of `tracer` where the configuration allows (`span-recorder.ts`). */
let recorder: SpanRecorder | undefined;

export function tracingEnabled(): boolean {
  return enabled;
}

export type TracingOptions = {
  /** The SDK's W3C trace-context propagator, for internal `traceparent` strings (the global one otherwise). */
  w3c?: TextMapPropagator;
  /** The global propagator is W3C trace context alone (see `headersW3c`). */
  headersW3c?: boolean;
  /** Records spans without the SDK's tracer (`span-recorder.ts`). */
  recorder?: SpanRecorder;
};

/**
 * Called by the SDK start-up (`telemetry.ts`) once the global tracer provider and propagator are set;
 * `shutdown` flushes buffered spans on drain.
 */
export function markTracingEnabled(shutdown: () => Promise<void>, options: TracingOptions = {}): void {
  enabled = true;
  flush = shutdown;
  internal = options.w3c ?? propagation;
  headersW3c = options.headersW3c === true;
  tracer = trace.getTracer("herald");
  recorder = options.recorder;
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

/**
 * Starts a span under `parent`: NATS headers (a publisher's or a previous hop's trace context), a `traceparent`
 * string carried in an internal body, or a span. Without a parent the span starts a new trace. Undefined while
 * tracing is off. `attributes` becomes the span's own (not copied): pass a fresh object.
 */
export function startSpan(
  name: string,
  parent: MsgHdrs | string | Span | undefined,
  kind: SpanKind,
  attributes: Attributes,
): Span | undefined {
  if (!enabled || !tracer) return undefined;
  if (recorder) return recorder.start(name, kind, attributes, parentOf(parent));
  return tracer.startSpan(name, { kind, attributes }, contextOf(parent));
}

/** The span context `parent` carries (see `startSpan`); undefined for none or an invalid one. */
function parentOf(parent: MsgHdrs | string | Span | undefined): SpanContext | undefined {
  if (parent === undefined) return undefined;
  if (typeof parent === "string") return traceparentContext(parent);
  if ("spanContext" in parent) return parent.spanContext();
  if (headersW3c) {
    const traceparent = plainTraceparent(parent);
    if (traceparent === "") return undefined;
    if (traceparent !== undefined) return traceparentContext(traceparent);
  }
  return trace.getSpanContext(propagation.extract(ROOT_CONTEXT, parent, natsHeaderGetter));
}

/** `parentOf` as the context the SDK's tracer takes. */
function contextOf(parent: MsgHdrs | string | Span | undefined): Context {
  if (parent !== undefined && typeof parent !== "string" && "spanContext" in parent)
    return trace.setSpan(ROOT_CONTEXT, parent);
  const context = parentOf(parent);
  return context ? trace.setSpanContext(ROOT_CONTEXT, context) : ROOT_CONTEXT;
}

/** The span context of an internal `traceparent` string, as the W3C propagator reads it. */
function traceparentContext(traceparent: string): SpanContext | undefined {
  return (
    parseTraceparent(traceparent) ??
    trace.getSpanContext(internal.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter))
  );
}

/** The context of an internal `traceparent` string, as the W3C propagator reads it. */
export function extractTraceparent(traceparent: string): Context {
  const context = traceparentContext(traceparent);
  return context ? trace.setSpanContext(ROOT_CONTEXT, context) : ROOT_CONTEXT;
}

/**
 * The `traceparent` header of `headers` (any case; "" when absent), or undefined when a `tracestate` header
 * comes with it, which only the propagator reads. One pass over the header names.
 */
function plainTraceparent(headers: MsgHdrs): string | undefined {
  let traceparent = "";
  for (const key of headers.keys()) {
    if (key.length === 11 && key.toLowerCase() === "traceparent") traceparent ||= headers.get(key);
    else if (key.length === 10 && key.toLowerCase() === "tracestate") return undefined;
  }
  return traceparent;
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

/**
 * New headers carrying an internal `traceparent` string (a span of an earlier hop) on to the next one;
 * undefined while tracing is off or for a value that is not a valid `traceparent`.
 */
export function traceparentHeaders(traceparent: string | undefined): MsgHdrs | undefined {
  if (!enabled || traceparent === undefined) return undefined;
  const context = traceparentContext(traceparent);
  if (!context) return undefined;
  return contextHeaders(context, natsHeaders());
}

/** `headers` (new ones when undefined) carrying `span`'s context to the next hop; as given without a span. */
export function traceHeaders(span: Span | undefined, headers?: MsgHdrs): MsgHdrs | undefined {
  if (!span) return headers;
  return contextHeaders(span.spanContext(), headers ?? natsHeaders());
}

/** Writes `context` into `h`: `traceparent` directly for plain W3C, else through the configured propagator. */
function contextHeaders(context: SpanContext, h: MsgHdrs): MsgHdrs {
  if (!headersW3c || context.traceState) {
    propagation.inject(trace.setSpanContext(ROOT_CONTEXT, context), h, natsHeaderSetter);
    return h;
  }
  const traceparent = formatTraceparent(context);
  if (traceparent !== undefined) h.set("traceparent", traceparent);
  return h;
}

/** `span`'s context as a `traceparent` value, for internal bodies that bundle many messages in one. */
export function traceparentOf(span: Span | undefined): string | undefined {
  if (!span) return undefined;
  // What the W3C propagator writes as `traceparent` (internal bodies carry no `tracestate`).
  return formatTraceparent(span.spanContext());
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
