import { trace } from "@opentelemetry/api";
import {
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type HistogramConfiguration,
  type LabelValues,
  Registry,
  register,
} from "prom-client";
import { tracingEnabled } from "./tracing.js";

export { Counter, Gauge, Histogram, Registry };

/** A registry with the process metrics every service exports, labelled with the service name. */
export function createMetrics(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: "herald_" });
  return registry;
}

/**
 * Buckets for "time since the intake stream stored the message" histograms; 20 ms is a bucket edge so the
 * share of messages within Herald's latency target is read off directly.
 */
export const STORE_LAG_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/** Seconds since `storedAtMs` (a nats-server timestamp); a host clock behind the server's reads as 0. */
export function secondsSinceStored(storedAtMs: number, nowMs = Date.now()): number {
  return Math.max(0, nowMs - storedAtMs) / 1000;
}

/** The trace id in a `traceparent` value or a bare trace id; undefined for anything else. */
function traceIdOf(traceparentOrId: string | undefined): string | undefined {
  if (!traceparentOrId) return undefined;
  const id = traceparentOrId.length === 32 ? traceparentOrId : traceparentOrId.slice(3, 35);
  return /^[0-9a-f]{32}$/.test(id) ? id : undefined;
}

/**
 * A latency histogram whose observations carry their message's trace id as an exemplar (`trace_id`), so a
 * dashboard can jump from a slow bucket to a trace. Exemplars appear only in OpenMetrics scrapes (the admin
 * server serves them when the scraper asks) and are kept only while tracing is on: without it `observe` is
 * the plain histogram's.
 */
export class LatencyHistogram<T extends string = string> {
  readonly histogram: Histogram<T>;
  private readonly exemplars: boolean;

  constructor(config: HistogramConfiguration<T>) {
    this.exemplars = tracingEnabled();
    // prom-client allows exemplars on OpenMetrics registries only; the admin server renders a registry as
    // either format, so the histogram is created unregistered and then registered as asked.
    this.histogram = new Histogram<T>({ ...config, registers: [], enableExemplars: this.exemplars });
    for (const registry of config.registers ?? [register]) registry.registerMetric(this.histogram);
  }

  /**
   * Observes `value` seconds; the exemplar's trace is `traceparent` (a `traceparent` value or trace id) when
   * given, else the active span's.
   */
  observe(value: number, labels?: LabelValues<T>, traceparent?: string): void {
    if (!this.exemplars) {
      if (labels) this.histogram.observe(labels, value);
      else this.histogram.observe(value);
      return;
    }
    const traceId = traceIdOf(traceparent) ?? trace.getActiveSpan()?.spanContext().traceId;
    // prom-client types exemplar labels as the histogram's own label names; `trace_id` is an exemplar's.
    const exemplarLabels = (traceId ? { trace_id: traceId } : {}) as LabelValues<T>;
    this.histogram.observe({ labels: labels ?? {}, value, exemplarLabels });
  }
}
