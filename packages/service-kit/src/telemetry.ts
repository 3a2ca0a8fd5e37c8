import { NodeSDK } from "@opentelemetry/sdk-node";

/**
 * Starts OpenTelemetry tracing when an OTLP endpoint is configured (standard `OTEL_*` variables); otherwise
 * does nothing, so a plain start costs no instrumentation overhead. Called from each service's
 * `instrumentation.ts`, which is preloaded with `node --import`.
 */
export function startTelemetry(serviceName: string): NodeSDK | undefined {
  const env = process.env;
  if (env.OTEL_SDK_DISABLED === "true") return undefined;
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return undefined;
  env.OTEL_SERVICE_NAME ??= `herald-${serviceName}`;
  const sdk = new NodeSDK();
  sdk.start();
  const shutdown = () => {
    sdk.shutdown().catch(() => {});
  };
  process.once("beforeExit", shutdown);
  return sdk;
}
