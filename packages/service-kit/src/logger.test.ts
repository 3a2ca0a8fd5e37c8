import { describe, expect, it, onTestFinished } from "vitest";
import { createLogger, instanceId } from "./logger.js";
import { startTelemetry } from "./telemetry.js";
import { SpanKind, startSpan, withSpan } from "./tracing.js";

const TRACE = "0af7651916cd43dd8448eb211c80319c";

/** A pino destination that keeps the parsed lines. */
function lines() {
  const out: Record<string, unknown>[] = [];
  return { out, write: (line: string) => void out.push(JSON.parse(line)) };
}

describe("log lines", () => {
  it("carry service and instance, and no trace fields while tracing is off", () => {
    const sink = lines();
    createLogger("router", "info", sink).info({ seq: 1 }, "routed");
    expect(sink.out[0]).toMatchObject({ service: "router", instance: instanceId, msg: "routed", seq: 1 });
    expect(sink.out[0]).not.toHaveProperty("trace_id");
  });

  it("carry the trace and span ids of the message whose span is active", async () => {
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = "http://127.0.0.1:9";
    const sdk = startTelemetry("test");
    onTestFinished(() => sdk.shutdown());
    const sink = lines();
    const logger = createLogger("connector", "info", sink).child({ component: "session" });
    const span = startSpan(
      "herald.connector.deliver",
      `00-${TRACE}-b7ad6b7169203331-01`,
      SpanKind.CONSUMER,
      {},
    );
    await withSpan(span, async () => {
      await Promise.resolve();
      logger.warn("ack publish failed");
    });
    logger.info("between messages");
    expect(sink.out[0]).toMatchObject({
      service: "connector",
      instance: instanceId,
      component: "session",
      trace_id: TRACE,
      span_id: span?.spanContext().spanId,
    });
    expect(sink.out[1]).not.toHaveProperty("trace_id");
  });
});
