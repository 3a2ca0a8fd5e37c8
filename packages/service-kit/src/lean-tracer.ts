import { AsyncLocalStorage } from "node:async_hooks";
import { randomFillSync } from "node:crypto";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { hostname } from "node:os";
import {
  type Context,
  type ContextManager,
  type Exception,
  ROOT_CONTEXT,
  type Span,
  type SpanAttributes,
  type SpanAttributeValue,
  type SpanContext,
  type SpanStatus,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  type Tracer,
  type TracerProvider,
  trace,
} from "@opentelemetry/api";
import { type AttributeMap, encodeJson, ProtobufBatch, type SpanRecord } from "./otlp-encode.js";

/**
 * A lean tracer for Herald's message path, used instead of the OpenTelemetry SDK when the `OTEL_*` variables
 * ask for what it covers (OTLP over HTTP, protobuf or JSON; the standard samplers; W3C trace context). The
 * SDK costs ~15 µs per span (attribute sanitising, hrtime arithmetic, a span processor chain, an exporter that
 * builds an object tree per span); a message crosses six spans, which doubled the services' CPU per message.
 * Here a span is one small object, ids come from a pooled random buffer, and a batch is encoded in one pass.
 * Anything else (gRPC, zipkin, console, other propagators, TLS client settings) falls back to the SDK.
 */

export type LeanConfig = {
  url: string;
  protocol: "http/protobuf" | "http/json";
  headers: Record<string, string>;
  timeoutMs: number;
  sampler: Sampler;
  resource: AttributeMap;
  scheduleDelayMs: number;
  maxBatch: number;
  maxQueue: number;
};

/** Decides from the parent's sampled flag (undefined: no parent) and the trace id. */
export type Sampler = (parentSampled: boolean | undefined, traceId: string) => boolean;

const pick = (env: NodeJS.ProcessEnv, ...names: string[]) =>
  names.map((n) => env[n]?.trim()).find((v) => v !== undefined && v !== "");

function ratioSampler(arg: string | undefined): Sampler {
  const ratio = Math.min(1, Math.max(0, Number(arg ?? "1") || 0));
  // The trace id's last 8 hex digits, uniformly random for W3C ids, against the ratio.
  return (_parent, traceId) => Number.parseInt(traceId.slice(-8), 16) / 0x1_0000_0000 < ratio;
}

/** `OTEL_TRACES_SAMPLER`; undefined for a sampler only the SDK has. */
export function samplerFrom(name: string | undefined, arg: string | undefined): Sampler | undefined {
  const roots: Record<string, Sampler> = {
    always_on: () => true,
    always_off: () => false,
    traceidratio: ratioSampler(arg),
  };
  const key = name ?? "parentbased_always_on";
  const root = roots[key.replace(/^parentbased_/, "")];
  if (!root) return undefined;
  if (!key.startsWith("parentbased_")) return root;
  return (parent, traceId) => parent ?? root(undefined, traceId);
}

function keyValues(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (raw ?? "").split(",")) {
    const eq = pair.indexOf("=");
    if (eq <= 0) continue;
    try {
      out[decodeURIComponent(pair.slice(0, eq).trim())] = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      // A malformed entry is skipped, as the SDK does.
    }
  }
  return out;
}

const SDK_ONLY = ["COMPRESSION", "CERTIFICATE", "CLIENT_KEY", "CLIENT_CERTIFICATE"].flatMap((s) => [
  `OTEL_EXPORTER_OTLP_${s}`,
  `OTEL_EXPORTER_OTLP_TRACES_${s}`,
]);

/** The lean tracer's settings from the standard variables, or undefined when only the SDK covers them. */
export function leanConfig(env: NodeJS.ProcessEnv, serviceName: string): LeanConfig | undefined {
  const exporter = pick(env, "OTEL_TRACES_EXPORTER") ?? "otlp";
  const protocol =
    pick(env, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL") ?? "http/protobuf";
  const propagators = pick(env, "OTEL_PROPAGATORS") ?? "tracecontext,baggage";
  const sampler = samplerFrom(pick(env, "OTEL_TRACES_SAMPLER"), pick(env, "OTEL_TRACES_SAMPLER_ARG"));
  if (exporter !== "otlp" || (protocol !== "http/protobuf" && protocol !== "http/json")) return undefined;
  if (
    !["tracecontext", "tracecontext,baggage", "baggage,tracecontext"].includes(propagators.replace(/\s/g, ""))
  )
    return undefined;
  if (!sampler || SDK_ONLY.some((name) => pick(env, name))) return undefined;
  const base = pick(env, "OTEL_EXPORTER_OTLP_ENDPOINT") ?? "http://localhost:4318";
  const number = (name: string, fallback: number) => {
    const value = Number(pick(env, name));
    return Number.isFinite(value) && value > 0 ? value : fallback;
  };
  return {
    url: pick(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") ?? `${base.replace(/\/$/, "")}/v1/traces`,
    protocol,
    headers: {
      ...keyValues(env.OTEL_EXPORTER_OTLP_HEADERS),
      ...keyValues(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS),
    },
    timeoutMs: number("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", number("OTEL_EXPORTER_OTLP_TIMEOUT", 10_000)),
    sampler,
    resource: {
      "host.name": hostname(),
      "process.pid": process.pid,
      "telemetry.sdk.language": "nodejs",
      "telemetry.sdk.name": "herald",
      ...keyValues(env.OTEL_RESOURCE_ATTRIBUTES),
      "service.name": pick(env, "OTEL_SERVICE_NAME") ?? `herald-${serviceName}`,
    },
    scheduleDelayMs: number("OTEL_BSP_SCHEDULE_DELAY", 5_000),
    maxBatch: number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512),
    maxQueue: number("OTEL_BSP_MAX_QUEUE_SIZE", 2_048),
  };
}

/** Random ids as hex, cut from one random buffer refilled now and then instead of per id. */
const pool = Buffer.allocUnsafe(8192);
let poolAt = pool.length;
function randomHex(bytes: number): string {
  if (poolAt + bytes > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const hex = pool.toString("hex", poolAt, poolAt + bytes);
  poolAt += bytes;
  return hex;
}

const nowMs = () => performance.timeOrigin + performance.now();

/** A span of the lean tracer; recording ones are queued for export when they end. */
export class LeanSpan implements Span {
  readonly record: SpanRecord;
  private ended = false;

  constructor(
    record: SpanRecord,
    private readonly sampled: boolean,
    private readonly exporter: BatchExporter,
  ) {
    this.record = record;
  }

  spanContext(): SpanContext {
    const { traceId, spanId, traceState } = this.record;
    return {
      traceId,
      spanId,
      traceFlags: this.sampled ? 1 : 0,
      ...(traceState ? { traceState: new PlainTraceState(traceState) } : {}),
    };
  }

  /** This span's W3C `traceparent`. */
  traceparent(): string {
    return `00-${this.record.traceId}-${this.record.spanId}-${this.sampled ? "01" : "00"}`;
  }

  setAttribute(key: string, value: SpanAttributeValue): this {
    // Herald's attributes are scalars; arrays are not exported.
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean")
      this.record.attributes[key] = value;
    return this;
  }

  setAttributes(attributes: SpanAttributes): this {
    for (const key in attributes) {
      const value = attributes[key];
      if (value !== undefined) this.setAttribute(key, value);
    }
    return this;
  }

  addEvent(): this {
    return this;
  }

  addLink(): this {
    return this;
  }

  addLinks(): this {
    return this;
  }

  setStatus(status: SpanStatus): this {
    this.record.statusCode = status.code;
    this.record.statusMessage = status.message;
    return this;
  }

  updateName(name: string): this {
    this.record.name = name;
    return this;
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.record.endMs = nowMs();
    if (this.sampled) this.exporter.add(this.record);
  }

  isSampled(): boolean {
    return this.sampled;
  }

  isRecording(): boolean {
    return this.sampled && !this.ended;
  }

  recordException(_exception: Exception): void {}
}

/** `tracestate` carried on unchanged: Herald adds no entries of its own. */
class PlainTraceState {
  constructor(private readonly raw: string) {}
  set() {
    return this;
  }
  unset() {
    return this;
  }
  get() {
    return undefined;
  }
  serialize() {
    return this.raw;
  }
}

/** A parent as the lean tracer needs it: ids, whether it was sampled, its `tracestate`. */
export type ParentRef = { traceId: string; spanId: string; sampled: boolean; traceState: string | undefined };

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);

/** A W3C `traceparent` (version 00), or undefined for anything invalid (all-zero ids included). */
export function parseTraceparent(value: string | undefined, traceState?: string): ParentRef | undefined {
  if (value === undefined) return undefined;
  // Herald's own hops write the exact form; anything else is normalised first.
  const m = TRACEPARENT.exec(value) ?? TRACEPARENT.exec(value.trim().toLowerCase());
  if (!m?.[1] || !m[2] || !m[3] || m[1] === ZERO_TRACE || m[2] === ZERO_SPAN) return undefined;
  return { traceId: m[1], spanId: m[2], sampled: (Number.parseInt(m[3], 16) & 1) === 1, traceState };
}

/** W3C trace context only (`traceparent`, `tracestate`): what Herald reads and writes on NATS headers. */
export class TraceparentPropagator implements TextMapPropagator {
  inject(ctx: Context, carrier: unknown, setter: TextMapSetter): void {
    const sc = trace.getSpanContext(ctx);
    if (!sc || !trace.isSpanContextValid(sc)) return;
    setter.set(carrier, "traceparent", `00-${sc.traceId}-${sc.spanId}-0${sc.traceFlags & 1}`);
    const state = sc.traceState?.serialize();
    if (state) setter.set(carrier, "tracestate", state);
  }

  extract(ctx: Context, carrier: unknown, getter: TextMapGetter): Context {
    const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
    const state = first(getter.get(carrier, "tracestate"));
    const parent = parseTraceparent(first(getter.get(carrier, "traceparent")), state);
    if (!parent) return ctx;
    return trace.setSpanContext(ctx, {
      traceId: parent.traceId,
      spanId: parent.spanId,
      traceFlags: parent.sampled ? 1 : 0,
      isRemote: true,
      ...(state ? { traceState: new PlainTraceState(state) } : {}),
    });
  }

  fields(): string[] {
    return ["traceparent", "tracestate"];
  }
}

export class LeanTracer implements Tracer {
  constructor(
    readonly exporter: BatchExporter,
    private readonly sampler: Sampler,
  ) {}

  /** Starts a span under `parent` (none: a new trace); `kind` is the API's SpanKind. */
  start(name: string, kind: number, attributes: AttributeMap, parent: ParentRef | undefined): LeanSpan {
    const traceId = parent?.traceId ?? randomHex(16);
    const sampled = this.sampler(parent?.sampled, traceId);
    const record: SpanRecord = {
      name,
      kind: kind + 1,
      traceId,
      spanId: randomHex(8),
      parentSpanId: parent?.spanId ?? "",
      traceState: parent?.traceState,
      startMs: nowMs(),
      endMs: 0,
      attributes,
      statusCode: 0,
      statusMessage: undefined,
    };
    return new LeanSpan(record, sampled, this.exporter);
  }

  startSpan(name: string, options: { kind?: number; attributes?: SpanAttributes } = {}, ctx?: Context): Span {
    const parentSpan = ctx ? trace.getSpan(ctx) : undefined;
    const sc = parentSpan?.spanContext();
    const parent = sc && {
      traceId: sc.traceId,
      spanId: sc.spanId,
      sampled: (sc.traceFlags & 1) === 1,
      traceState: sc.traceState?.serialize(),
    };
    return this.start(name, options.kind ?? 0, { ...(options.attributes as AttributeMap) }, parent);
  }

  startActiveSpan(): never {
    throw new Error("startActiveSpan is not used on Herald's message path");
  }
}

export class LeanTracerProvider implements TracerProvider {
  constructor(readonly tracer: LeanTracer) {}
  getTracer(): Tracer {
    return this.tracer;
  }
}

/** The active context in an AsyncLocalStorage, so log lines written under `withSpan` find their span. */
export class StorageContextManager implements ContextManager {
  private readonly storage = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.storage.run(ctx, () => fn.apply(thisArg, args));
  }
  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== "function") return target;
    const fn = target as (...args: unknown[]) => unknown;
    return ((...args: unknown[]) => this.with(ctx, fn, undefined, ...args)) as T;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.storage.disable();
    return this;
  }
}

/**
 * Collects ended spans and posts them in batches: when `maxBatch` are waiting, or `scheduleDelayMs` after the
 * first one. In protobuf each span is encoded as it ends (`ProtobufBatch`). Spans beyond `maxQueue` (waiting
 * plus in flight) are dropped and counted, and an export that fails is dropped too: tracing never holds up
 * delivery or grows without bound.
 */
export class BatchExporter {
  private readonly protobuf: ProtobufBatch | undefined;
  private json: SpanRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private inFlightSpans = 0;
  private readonly agent: HttpAgent;
  dropped = 0;
  failed = 0;
  exported = 0;

  constructor(private readonly config: LeanConfig) {
    this.agent = config.url.startsWith("https:")
      ? new HttpsAgent({ keepAlive: true, maxSockets: 2 })
      : new HttpAgent({ keepAlive: true, maxSockets: 2 });
    if (config.protocol === "http/protobuf") this.protobuf = new ProtobufBatch(config.resource, "herald");
  }

  private get waiting(): number {
    return this.protobuf ? this.protobuf.count : this.json.length;
  }

  add(record: SpanRecord): void {
    if (this.waiting + this.inFlightSpans >= this.config.maxQueue) {
      this.dropped++;
      return;
    }
    if (this.protobuf) this.protobuf.add(record);
    else this.json.push(record);
    if (this.waiting >= this.config.maxBatch) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.config.scheduleDelayMs).unref();
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const count = this.waiting;
    if (count === 0) return;
    let body: Buffer;
    if (this.protobuf) body = this.protobuf.take();
    else {
      body = Buffer.from(encodeJson(this.config.resource, "herald", this.json));
      this.json = [];
    }
    this.inFlightSpans += count;
    const sent = this.post(body, count).finally(() => {
      this.inFlightSpans -= count;
      this.inFlight.delete(sent);
    });
    this.inFlight.add(sent);
  }

  /** Exports what is waiting and waits for every export in flight. */
  async shutdown(): Promise<void> {
    this.flush();
    await Promise.all([...this.inFlight]);
    this.agent.destroy();
  }

  private post(body: Buffer, count: number): Promise<void> {
    const { config } = this;
    const send = config.url.startsWith("https:") ? httpsRequest : httpRequest;
    return new Promise<void>((resolve) => {
      let settled = false;
      const done = (ok: boolean) => {
        if (settled) return;
        settled = true;
        if (ok) this.exported += count;
        else this.failed += count;
        resolve();
      };
      const req = send(
        config.url,
        {
          method: "POST",
          agent: this.agent,
          timeout: config.timeoutMs,
          headers: {
            ...config.headers,
            "content-type": this.protobuf ? "application/x-protobuf" : "application/json",
            "content-length": body.length,
          },
        },
        (res) => {
          res.resume();
          res.on("end", () => done((res.statusCode ?? 0) < 300));
          res.on("error", () => done(false));
        },
      );
      req.on("timeout", () => req.destroy(new Error("OTLP export timed out")));
      req.on("error", () => done(false));
      req.end(body);
    });
  }
}
