import { trace } from "@opentelemetry/api";
import { core, NodeSDK, type tracing } from "@opentelemetry/sdk-node";
import {
  batchProcessorFromEnv,
  EncodingSpanProcessor,
  OtlpProtobufSpanExporter,
  otelList,
  otlpProtobufRequested,
} from "./otlp-exporter.js";
import { followsParent, recorderAllowed, SpanRecorder } from "./span-recorder.js";
import { markTracingEnabled } from "./tracing.js";

/**
 * Starts the OpenTelemetry SDK, configured by the standard `OTEL_*` variables alone (exporter, protocol,
 * endpoint, sampler, resource attributes, batch settings). Loaded only by `boot.ts` when tracing is requested.
 * No auto-instrumentation: Herald's message path is NATS, traced by hand (`tracing.ts`), and its only HTTP
 * server answers probes and scrapes, which would be one meaningless trace each.
 */
export function startTelemetry(serviceName: string): NodeSDK {
  const env = process.env;
  env.OTEL_SERVICE_NAME ??= `herald-${serviceName}`;
  // Traces only unless asked: metrics are scraped from /metrics and logs are pino lines on stdout.
  env.OTEL_METRICS_EXPORTER ??= "none";
  env.OTEL_LOGS_EXPORTER ??= "none";
  // Herald never forwards a publisher's baggage, so the default baggage propagator would only cost time.
  env.OTEL_PROPAGATORS ??= "tracecontext";
  // Twice the SDK's batch (and its queue, kept at 4 batches): every export request costs about as much CPU as
  // encoding a few hundred spans, and a busy service fills a batch in well under the 5 s schedule delay.
  // Either variable set leaves both to the operator.
  if (env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE === undefined && env.OTEL_BSP_MAX_QUEUE_SIZE === undefined) {
    env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE = "1024";
    env.OTEL_BSP_MAX_QUEUE_SIZE = "4096";
  }
  // The default OTLP/HTTP protobuf export with a cheaper encoder (`otlp-spans.ts`) that encodes each span as it
  // ends; still the SDK's batch processor (`OTEL_BSP_*`), exporter delegate and transport. Other exporters and
  // protocols are the SDK's own, set up by NodeSDK.
  const encoding = otlpProtobufRequested(env)
    ? new EncodingSpanProcessor(batchProcessorFromEnv(new OtlpProtobufSpanExporter()))
    : undefined;
  const sdk = new NodeSDK({ instrumentations: [], ...(encoding ? { spanProcessors: [encoding] } : {}) });
  sdk.start();
  const recorder = encoding && recorderAllowed(env) ? spanRecorder(encoding, env) : undefined;
  markTracingEnabled(() => sdk.shutdown(), {
    w3c: new core.W3CTraceContextPropagator(),
    headersW3c: onlyTraceContext(env.OTEL_PROPAGATORS),
    ...(recorder ? { recorder } : {}),
  });
  return sdk;
}

/**
 * A recorder exporting through `encoding`, with the resource and scope of the SDK's tracer "herald", read off a
 * span that is never ended (so never exported).
 */
function spanRecorder(encoding: EncodingSpanProcessor, env: NodeJS.ProcessEnv): SpanRecorder {
  const probe = trace.getTracer("herald").startSpan("herald.probe") as unknown as tracing.ReadableSpan;
  return new SpanRecorder({
    resource: probe.resource,
    instrumentationScope: probe.instrumentationScope,
    onEnd: (span) => encoding.onEnd(span),
    followParent: followsParent(env),
  });
}

/** True when `OTEL_PROPAGATORS` names W3C trace context and nothing else (as the SDK splits the list). */
export function onlyTraceContext(propagators: string): boolean {
  const names = otelList(propagators);
  return names.size === 1 && names.has("tracecontext");
}
