import { hostname } from "node:os";
import { trace } from "@opentelemetry/api";
import { type DestinationStream, type Logger, pino } from "pino";
import { tracingEnabled } from "./tracing.js";

export type { Logger };

/** Which process wrote a line: several replicas of one service share a log index. */
export const instanceId = `${hostname()}/${process.pid}`;

/** The active span's ids, so a log line joins its message's trace. */
function traceIds(): Record<string, string> {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

/**
 * JSON logs to stdout with `service` and `instance` on every line, and `trace_id`/`span_id` on lines written
 * while a message's span is active (only when tracing is on: the lookup is skipped otherwise); one child per
 * component (`logger.child({ component })`).
 */
export function createLogger(service: string, level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service, instance: instanceId },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...(tracingEnabled() ? { mixin: traceIds } : {}),
  };
  return destination ? pino(options, destination) : pino(options);
}
