import { describe, expect, it, onTestFinished } from "vitest";
import { createAdminApp } from "./admin-server.js";
import { Counter, LatencyHistogram, Registry } from "./metrics.js";
import { startTelemetry } from "./telemetry.js";
import { SpanKind, startSpan, withSpan } from "./tracing.js";

const TRACE = "0af7651916cd43dd8448eb211c80319c";
const OTHER = "4bf92f3577b34da6a3ce929d0e0e4736";

describe("latency exemplars", () => {
  it("are plain observations while tracing is off", async () => {
    const registry = new Registry();
    const h = new LatencyHistogram({ name: "off_seconds", help: "h", buckets: [0.1], registers: [registry] });
    h.observe(0.05, undefined, `00-${TRACE}-b7ad6b7169203331-01`);
    const app = createAdminApp({ metrics: registry, notReadyReason: () => undefined });
    const res = await app.request("/metrics", { headers: { accept: "application/openmetrics-text" } });
    const text = await res.text();
    expect(text).toContain('off_seconds_bucket{le="0.1"} 1');
    expect(text).not.toContain("trace_id");
  });

  it("carry the trace id in OpenMetrics scrapes only, without changing Prometheus text", async () => {
    // The SDK, exporting nowhere: what a service runs with OTEL_EXPORTER_OTLP_ENDPOINT set.
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = "http://127.0.0.1:9";
    const sdk = startTelemetry("test");
    onTestFinished(() => sdk.shutdown());
    const registry = new Registry();
    registry.setDefaultLabels({ service: "test" });
    const counter = new Counter({ name: "things_total", help: "c", registers: [registry] });
    const h = new LatencyHistogram({
      name: "lag_seconds",
      help: "h",
      labelNames: ["kind"],
      buckets: [0.01, 0.1],
      registers: [registry],
    });
    counter.inc();
    h.observe(0.005, { kind: "user" }, `00-${TRACE}-b7ad6b7169203331-01`);
    // Without an explicit trace, the active span's (the router observes inside its route span).
    const span = startSpan("x", `00-${OTHER}-b7ad6b7169203331-01`, SpanKind.CONSUMER, {});
    withSpan(span, () => h.observe(0.05, { kind: "user" }));
    h.observe(0.5, { kind: "user" });
    const app = createAdminApp({ metrics: registry, notReadyReason: () => undefined });

    const om = await app.request("/metrics", {
      headers: { accept: "application/openmetrics-text; version=1.0.0" },
    });
    expect(om.headers.get("content-type")).toContain("application/openmetrics-text");
    const omText = await om.text();
    expect(omText).toMatch(
      new RegExp(
        `lag_seconds_bucket\\{le="0.01",service="test",kind="user"\\} 1 # \\{trace_id="${TRACE}"\\} 0.005`,
      ),
    );
    expect(omText).toMatch(
      new RegExp(
        `lag_seconds_bucket\\{le="0.1",service="test",kind="user"\\} 2 # \\{trace_id="${OTHER}"\\} 0.05`,
      ),
    );
    expect(omText).toMatch(/lag_seconds_bucket\{le="\+Inf",service="test",kind="user"\} 3\n/);
    expect(omText.endsWith("# EOF\n")).toBe(true);

    const prom = await app.request("/metrics");
    expect(prom.headers.get("content-type")).toContain("text/plain");
    const promText = await prom.text();
    expect(promText).toContain('things_total{service="test"} 1');
    expect(promText).not.toContain("# {");
    expect(promText).not.toContain("# EOF");
  });

  it("replace a bucket's exemplar at most once per refresh interval, per bucket and label set", async () => {
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = "http://127.0.0.1:9";
    const sdk = startTelemetry("test");
    onTestFinished(() => sdk.shutdown());
    const scrape = async (registry: Registry) => {
      const app = createAdminApp({ metrics: registry, notReadyReason: () => undefined });
      const res = await app.request("/metrics", { headers: { accept: "application/openmetrics-text" } });
      return res.text();
    };
    const config = { help: "h", labelNames: ["kind"], buckets: [0.01, 0.1] };
    const slow = new Registry();
    const held = new LatencyHistogram({ ...config, name: "held_seconds", registers: [slow] }, 60_000);
    held.observe(0.005, { kind: "user" }, TRACE);
    held.observe(0.006, { kind: "user" }, OTHER); // same bucket, within the interval: counted, exemplar kept
    held.observe(0.007, { kind: "channel" }, OTHER); // another label set has its own
    held.observe(0.05, { kind: "user" }, OTHER); // another bucket has its own
    const text = await scrape(slow);
    expect(text).toMatch(
      new RegExp(`held_seconds_bucket\\{le="0.01",kind="user"\\} 2 # \\{trace_id="${TRACE}"\\} 0.005`),
    );
    expect(text).toMatch(
      new RegExp(`held_seconds_bucket\\{le="0.01",kind="channel"\\} 1 # \\{trace_id="${OTHER}"\\}`),
    );
    expect(text).toMatch(
      new RegExp(`held_seconds_bucket\\{le="0.1",kind="user"\\} 3 # \\{trace_id="${OTHER}"\\} 0.05`),
    );

    const fast = new Registry();
    const every = new LatencyHistogram({ ...config, name: "every_seconds", registers: [fast] }, 0);
    every.observe(0.005, { kind: "user" }, TRACE);
    every.observe(0.006, { kind: "user" }, OTHER);
    expect(await scrape(fast)).toMatch(
      new RegExp(`every_seconds_bucket\\{le="0.01",kind="user"\\} 2 # \\{trace_id="${OTHER}"\\} 0.006`),
    );
  });
});
