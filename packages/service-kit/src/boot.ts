/**
 * The first thing a service's `main.js` runs, before it imports the service itself: starts OpenTelemetry when
 * the standard variables ask for an exporter, so the SDK (and its hooks) is in place before any other module
 * loads. Nothing else is imported here: with tracing off the SDK is never loaded.
 */

/** True when the `OTEL_*` variables ask for traces to be exported. */
export function telemetryRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED === "true") return false;
  const exporter = env.OTEL_TRACES_EXPORTER;
  if (exporter !== undefined && exporter !== "") return exporter !== "none";
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/**
 * Starts tracing for `service` if requested. A broken telemetry setup is reported and the service runs
 * without it: observability must not take delivery down.
 */
export async function bootTelemetry(service: string): Promise<void> {
  if (!telemetryRequested()) return;
  try {
    const { startTelemetry } = await import("./telemetry.js");
    await startTelemetry(service);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    process.stderr.write(`${JSON.stringify({ level: 50, service, msg: "tracing not started", reason })}\n`);
  }
}
