import { type Context, TraceFlags } from "@opentelemetry/api";
import { OTLPExporterBase } from "@opentelemetry/otlp-exporter-base";
import {
  convertLegacyHttpOptions,
  createOtlpHttpExportDelegate,
} from "@opentelemetry/otlp-exporter-base/node-http";
import {
  type IExportTraceServiceResponse,
  type ISerializer,
  ProtobufTraceSerializer,
  TraceExporterMetricsHelper,
} from "@opentelemetry/otlp-transformer";
import { core, tracing } from "@opentelemetry/sdk-node";
import { encodeSpan, type SpanRecord, serializeSpans } from "./otlp-spans.js";

type ReadableSpan = tracing.ReadableSpan;

const serializer: ISerializer<ReadableSpan[], IExportTraceServiceResponse> = {
  serializeRequest: serializeSpans,
  deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
};

/**
 * The SDK's OTLP/HTTP protobuf span exporter (`@opentelemetry/exporter-trace-otlp-proto`: the same delegate,
 * configuration from the `OTEL_EXPORTER_OTLP_*` variables, transport, retries and compression), with the
 * request encoded by `otlp-spans.ts`.
 */
export class OtlpProtobufSpanExporter extends OTLPExporterBase<ReadableSpan[]> {
  constructor() {
    super(
      createOtlpHttpExportDelegate(
        convertLegacyHttpOptions({}, "TRACES", "v1/traces", { "Content-Type": "application/x-protobuf" }),
        serializer,
        "otlp_http_span_exporter",
        TraceExporterMetricsHelper,
        undefined,
      ),
    );
  }
}

/**
 * True when the `OTEL_*` variables select the OTLP exporter alone over `http/protobuf` (the SDK's default), read
 * as the SDK reads them; any other exporter or protocol is left to the SDK.
 */
export function otlpProtobufRequested(env: NodeJS.ProcessEnv): boolean {
  const exporters = otelList(env.OTEL_TRACES_EXPORTER);
  exporters.delete("null");
  if (exporters.size > 1 || (exporters.size === 1 && !exporters.has("otlp"))) return false;
  const protocol =
    nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) ??
    nonEmpty(env.OTEL_EXPORTER_OTLP_PROTOCOL) ??
    "http/protobuf";
  return protocol === "http/protobuf";
}

/** A comma-separated `OTEL_*` list as the SDK splits it: trimmed names, blanks dropped. */
export function otelList(value: string | undefined): Set<string> {
  return new Set(
    (value ?? "")
      .split(",")
      .map((name) => name.trim())
      .filter(Boolean),
  );
}

/** As the SDK reads a string variable: blank is unset. */
function nonEmpty(value: string | undefined): string | undefined {
  return value?.trim() ? value : undefined;
}

/**
 * Hands each ended, sampled span to `next` (the SDK's batch processor) already encoded (`encodeSpan`), so the
 * span object dies young instead of waiting in the batch for its export.
 */
export class EncodingSpanProcessor implements tracing.SpanProcessor {
  constructor(private readonly next: tracing.SpanProcessor) {}

  onStart(span: tracing.Span, parent: Context): void {
    this.next.onStart(span, parent);
  }

  /** Takes the SDK's spans and `span-recorder.ts`'s alike. */
  onEnd(span: SpanRecord): void {
    if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    this.next.onEnd(encodeSpan(span) as unknown as ReadableSpan);
  }

  forceFlush(): Promise<void> {
    return this.next.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.next.shutdown();
  }
}

/** The SDK's batch processor over `exporter`, with the `OTEL_BSP_*` settings read as the SDK's NodeSDK reads them. */
export function batchProcessorFromEnv(exporter: tracing.SpanExporter): tracing.BatchSpanProcessor {
  const positive = (name: string) => {
    const value = core.getNumberFromEnv(name);
    return value !== undefined && value > 0 ? value : undefined;
  };
  const options: tracing.BufferConfig = {};
  const queue = positive("OTEL_BSP_MAX_QUEUE_SIZE");
  const delay = positive("OTEL_BSP_SCHEDULE_DELAY");
  const timeout = positive("OTEL_BSP_EXPORT_TIMEOUT");
  const batch = positive("OTEL_BSP_MAX_EXPORT_BATCH_SIZE");
  if (queue !== undefined) options.maxQueueSize = queue;
  if (delay !== undefined) options.scheduledDelayMillis = delay;
  if (timeout !== undefined) options.exportTimeoutMillis = timeout;
  if (batch !== undefined) options.maxExportBatchSize = batch;
  return new tracing.BatchSpanProcessor(exporter, options);
}
