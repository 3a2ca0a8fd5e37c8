import { context, propagation, trace } from "@opentelemetry/api";
import {
  BatchExporter,
  LeanTracer,
  LeanTracerProvider,
  leanConfig,
  StorageContextManager,
  TraceparentPropagator,
} from "./lean-tracer.js";
import { markTracingEnabled } from "./tracing.js";

/**
 * Starts tracing, configured by the standard `OTEL_*` variables alone (exporter, protocol, endpoint, headers,
 * sampler, resource attributes, batch settings). Loaded only by `boot.ts` when tracing is requested. OTLP over
 * HTTP goes through the lean tracer (`lean-tracer.ts`); what only the SDK covers starts the SDK. No
 * auto-instrumentation either way: Herald's message path is NATS, traced by hand (`tracing.ts`), and its only
 * HTTP server answers probes and scrapes, which would be one meaningless trace each.
 */
export async function startTelemetry(serviceName: string, env = process.env): Promise<"lean" | "sdk"> {
  const config = leanConfig(env, serviceName);
  if (config) {
    const exporter = new BatchExporter(config);
    const tracer = new LeanTracer(exporter, config.sampler);
    trace.setGlobalTracerProvider(new LeanTracerProvider(tracer));
    context.setGlobalContextManager(new StorageContextManager());
    propagation.setGlobalPropagator(new TraceparentPropagator());
    markTracingEnabled(() => exporter.shutdown(), tracer);
    return "lean";
  }
  env.OTEL_SERVICE_NAME ??= `herald-${serviceName}`;
  // Traces only unless asked: metrics are scraped from /metrics and logs are pino lines on stdout.
  env.OTEL_METRICS_EXPORTER ??= "none";
  env.OTEL_LOGS_EXPORTER ??= "none";
  const { NodeSDK } = await import("@opentelemetry/sdk-node");
  const sdk = new NodeSDK({ instrumentations: [] });
  sdk.start();
  markTracingEnabled(() => sdk.shutdown());
  return "sdk";
}
