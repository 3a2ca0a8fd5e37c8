import {
  type Attributes,
  type AttributeValue,
  type Exception,
  type HrTime,
  type Link,
  type Span,
  type SpanContext,
  type SpanKind,
  type SpanStatus,
  SpanStatusCode,
  type TimeInput,
  TraceFlags,
  trace,
} from "@opentelemetry/api";
import { core, tracing } from "@opentelemetry/sdk-node";
import type { SpanRecord } from "./otlp-spans.js";
import { CheckedSpanContext, validContext } from "./traceparent.js";

/**
 * The message path's spans without the SDK's `Tracer` and `Span`: the same sampling (`parentbased_always_on`
 * or `always_on`), ids, times, attributes, events and status, handed at `end()` to the same span processor
 * (`EncodingSpanProcessor`, then the SDK's batch processor, exporter and transport). The SDK's span checks every
 * attribute, limit and time input, builds a context per span and keeps self-metrics; at 100 % sampling that
 * was most of tracing's cost per message (bench/README.md, "Tracing's cost"). Used only where those checks
 * cannot change the result: the OTLP protobuf exporter, one of those two samplers and no `OTEL_*_LIMIT`
 * variable (`recorderAllowed`); every other setup gets the SDK's own spans.
 */

type ReadableSpan = tracing.ReadableSpan;
type TimedEvent = ReadableSpan["events"][number];

export type RecorderOptions = {
  resource: ReadableSpan["resource"];
  instrumentationScope: ReadableSpan["instrumentationScope"];
  /** Receives each ended span (`SpanProcessor.onEnd`). */
  onEnd: (span: RecordedSpan) => void;
  /** `parentbased_always_on`: a parent's unsampled flag is followed; `always_on` samples every span. */
  followParent: boolean;
};

const SAMPLERS: Record<string, boolean> = { parentbased_always_on: true, always_on: false };

/**
 * True when the `OTEL_*` variables leave nothing for the SDK's span to decide differently: a sampler of
 * `SAMPLERS` (or none) and no attribute, event or link limit. The exporter choice is the caller's.
 */
export function recorderAllowed(env: NodeJS.ProcessEnv): boolean {
  const sampler = env.OTEL_TRACES_SAMPLER?.trim() || "parentbased_always_on";
  if (!(sampler in SAMPLERS)) return false;
  return !Object.keys(env).some((name) => name.startsWith("OTEL_") && name.endsWith("_LIMIT") && env[name]);
}

/** Whether `OTEL_TRACES_SAMPLER` follows the parent's sampled flag (see `recorderAllowed`). */
export function followsParent(env: NodeJS.ProcessEnv): boolean {
  return SAMPLERS[env.OTEL_TRACES_SAMPLER?.trim() || "parentbased_always_on"] ?? true;
}

/** The SDK's own id generator (the one its tracer uses): random, lowercase hex, never all zeros. */
const ids = new tracing.RandomIdGenerator();

const NO_EVENTS: TimedEvent[] = [];
const NO_LINKS: Link[] = [];
const UNSET: SpanStatus = { code: SpanStatusCode.UNSET };

/**
 * Attributes without `undefined` and `null` values, which the SDK drops too. The object is kept as given when it
 * has none: the span helpers' callers build it for the call (`startSpan` documents that it is taken).
 */
function definedAttributes(attributes: Attributes | undefined): Attributes {
  if (attributes === undefined) return {};
  let clean = true;
  for (const key in attributes) {
    if (attributes[key] == null || key === "") {
      clean = false;
      break;
    }
  }
  if (clean) return attributes;
  const out: Attributes = {};
  for (const key in attributes) {
    const value = attributes[key];
    if (value != null && key !== "") out[key] = value;
  }
  return out;
}

export class SpanRecorder {
  constructor(private readonly options: RecorderOptions) {}

  get resource(): RecorderOptions["resource"] {
    return this.options.resource;
  }

  get instrumentationScope(): RecorderOptions["instrumentationScope"] {
    return this.options.instrumentationScope;
  }

  /** A span under `parent` (a new trace without a valid one), or a non-recording one where the sampler says so. */
  start(name: string, kind: SpanKind, attributes: Attributes, parent: SpanContext | undefined): Span {
    const valid = parent !== undefined && validContext(parent);
    const traceId = valid ? parent.traceId : ids.generateTraceId();
    const context = new CheckedSpanContext(traceId, ids.generateSpanId(), TraceFlags.SAMPLED, false);
    if (valid && parent.traceState) context.traceState = parent.traceState;
    if (valid && this.options.followParent && (parent.traceFlags & TraceFlags.SAMPLED) === 0) {
      context.traceFlags = TraceFlags.NONE;
      return trace.wrapSpanContext(context);
    }
    return new RecordedSpan(this, name, kind, context, valid ? parent : undefined, attributes);
  }

  ended(span: RecordedSpan): void {
    this.options.onEnd(span);
  }
}

/** A time of a recorded span: milliseconds after its start on the monotonic clock, or an explicit time. */
export type RecordedTime = number | HrTime;

/** The nanoseconds part of `millisToHrTime(startMs) + millisToHrTime(offsetMs)` before the SDK carries a second. */
function nanosSum(startMs: number, offsetMs: number): number {
  return Math.round((startMs % 1000) * 1e6) + Math.round((offsetMs % 1000) * 1e6);
}

/** The seconds of `hrTimeAfter(startMs, offsetMs)`, without making the array (for the encoder). */
export function secondsAfter(startMs: number, offsetMs: number): number {
  const carry = nanosSum(startMs, offsetMs) >= 1e9 ? 1 : 0;
  return Math.trunc(startMs / 1000) + Math.trunc(offsetMs / 1000) + carry;
}

/** The nanoseconds of `hrTimeAfter(startMs, offsetMs)`. */
export function nanosAfter(startMs: number, offsetMs: number): number {
  const nanos = nanosSum(startMs, offsetMs);
  return nanos >= 1e9 ? nanos - 1e9 : nanos;
}

/** `millisToHrTime(startMs) + millisToHrTime(offsetMs)` as the SDK adds them (`core.addHrTimes`). */
export function hrTimeAfter(startMs: number, offsetMs: number): HrTime {
  return [secondsAfter(startMs, offsetMs), nanosAfter(startMs, offsetMs)];
}

/**
 * An event of a recorded span. Its time is kept as a number until asked for as an `HrTime` (the encoder reads
 * it without one, `otlp-spans.ts`): a span's times were several short-lived arrays each.
 */
export class RecordedEvent {
  droppedAttributesCount = 0;

  constructor(
    readonly name: string,
    readonly attributes: Attributes,
    private readonly span: RecordedSpan,
    readonly at: RecordedTime,
  ) {}

  get time(): HrTime {
    return typeof this.at === "number" ? hrTimeAfter(this.span.startMs, this.at) : this.at;
  }

  /** The span's start, in epoch milliseconds (for the encoder). */
  get startMs(): number {
    return this.span.startMs;
  }
}

/** Shared by the events that have no attributes (never written to: `RecordedEvent.attributes` is read only). */
const NO_ATTRIBUTES: Attributes = Object.freeze({});

/** A sampled span of the message path (see the module comment); readable as the SDK's `ReadableSpan` once ended. */
export class RecordedSpan implements Span, SpanRecord {
  readonly attributes: Attributes;
  events: TimedEvent[] = NO_EVENTS;
  links: Link[] = NO_LINKS;
  status: SpanStatus = UNSET;
  readonly droppedAttributesCount = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  readonly parentSpanContext?: SpanContext;
  /** As the SDK does: the wall clock at the start (epoch ms), then the monotonic clock for every later time. */
  readonly startMs = Date.now();
  readonly #perfStart = performance.now();
  /** When it ended: ms after the start, or an explicit time given to `end()`. */
  endAt: RecordedTime = 0;
  #ended = false;

  constructor(
    private readonly recorder: SpanRecorder,
    public name: string,
    readonly kind: SpanKind,
    private readonly context: SpanContext,
    parent: SpanContext | undefined,
    attributes: Attributes,
  ) {
    if (parent) this.parentSpanContext = parent;
    this.attributes = definedAttributes(attributes);
  }

  get startTime(): HrTime {
    return core.millisToHrTime(this.startMs);
  }

  get endTime(): HrTime {
    return typeof this.endAt === "number" ? hrTimeAfter(this.startMs, this.endAt) : this.endAt;
  }

  get resource(): SpanRecord["resource"] {
    return this.recorder.resource;
  }

  get instrumentationScope(): SpanRecord["instrumentationScope"] {
    return this.recorder.instrumentationScope;
  }

  spanContext(): SpanContext {
    return this.context;
  }

  isRecording(): boolean {
    return !this.#ended;
  }

  setAttribute(key: string, value: AttributeValue): this {
    if (!this.#ended && value != null && key !== "") this.attributes[key] = value;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const key in attributes) this.setAttribute(key, attributes[key] as AttributeValue);
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.#ended) return this;
    const timeOnly = attributesOrTime instanceof Date || typeof attributesOrTime === "number";
    const at = timeOnly || core.isTimeInputHrTime(attributesOrTime) ? attributesOrTime : time;
    const attributes = timeOnly || core.isTimeInputHrTime(attributesOrTime) ? undefined : attributesOrTime;
    const event = new RecordedEvent(
      name,
      attributes === undefined ? NO_ATTRIBUTES : definedAttributes(attributes),
      this,
      this.#at(at as TimeInput | undefined),
    );
    if (this.events === NO_EVENTS) this.events = [event];
    else this.events.push(event);
    return this;
  }

  addLink(link: Link): this {
    if (this.#ended) return this;
    if (this.links === NO_LINKS) this.links = [];
    this.links.push({ context: link.context, attributes: definedAttributes(link.attributes) });
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  /** As the SDK: UNSET changes nothing, OK is final, only ERROR keeps a message. */
  setStatus(status: SpanStatus): this {
    if (this.#ended || status.code === SpanStatusCode.UNSET || this.status.code === SpanStatusCode.OK)
      return this;
    this.status =
      status.code === SpanStatusCode.ERROR && typeof status.message === "string"
        ? { code: status.code, message: status.message }
        : { code: status.code };
    return this;
  }

  updateName(name: string): this {
    if (!this.#ended) this.name = name;
    return this;
  }

  end(endTime?: TimeInput): void {
    if (this.#ended) return;
    this.endAt = this.#at(endTime);
    this.#ended = true;
    this.recorder.ended(this);
  }

  /** The event the SDK records for an exception (`exception.*` semantic attributes). */
  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === "string") attributes["exception.message"] = exception;
    else {
      const type = exception.code !== undefined ? String(exception.code) : exception.name;
      if (type !== undefined) attributes["exception.type"] = type;
      if (exception.message !== undefined) attributes["exception.message"] = exception.message;
      if (exception.stack !== undefined) attributes["exception.stacktrace"] = exception.stack;
    }
    this.addEvent("exception", attributes, time);
  }

  /** A time given as the SDK takes it (epoch ms, a performance timestamp, a Date, an HrTime), or now. */
  #at(input: TimeInput | undefined): RecordedTime {
    if (input !== undefined) return core.timeInputToHrTime(input);
    return performance.now() - this.#perfStart;
  }
}
