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
 * the plain histogram's. A bucket keeps one exemplar, its latest, so each bucket's (per label set) is replaced
 * at most every `exemplarRefreshMs`: a scrape still finds a recent trace in every bucket that saw one, and the
 * message path does not pay for an exemplar on every observation.
 */
export class LatencyHistogram<T extends string = string> {
  readonly histogram: Histogram<T>;
  private readonly exemplars: boolean;
  private readonly bounds: readonly number[];
  private readonly labelNames: readonly T[];
  /** Per label set, when each bucket's exemplar was last replaced (`performance.now()`; the last is +Inf's). */
  private readonly refreshed = new Map<string, Float64Array>();

  constructor(
    config: HistogramConfiguration<T>,
    private readonly exemplarRefreshMs = 1_000,
  ) {
    this.exemplars = tracingEnabled();
    this.bounds = config.buckets ?? [];
    this.labelNames = config.labelNames ?? [];
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
    if (!this.exemplarDue(value, labels)) {
      // No exemplar labels: prom-client counts the value and leaves the bucket's exemplar as it is.
      this.histogram.observe({ labels: labels ?? {}, value });
      return;
    }
    const traceId = traceIdOf(traceparent) ?? trace.getActiveSpan()?.spanContext().traceId;
    // prom-client types exemplar labels as the histogram's own label names; `trace_id` is an exemplar's.
    const exemplarLabels = (traceId ? { trace_id: traceId } : {}) as LabelValues<T>;
    this.histogram.observe({ labels: labels ?? {}, value, exemplarLabels });
  }

  private labelKey(labels: LabelValues<T>): string {
    const [only] = this.labelNames;
    if (this.labelNames.length === 1 && only !== undefined) return String(labels[only] ?? "");
    return this.labelNames.map((name) => String(labels[name] ?? "")).join("\u0000");
  }

  /** True when the bucket `value` falls in (for `labels`) may take a new exemplar now, which it then counts as taken. */
  private exemplarDue(value: number, labels: LabelValues<T> | undefined): boolean {
    const key = labels === undefined ? "" : this.labelKey(labels);
    let times = this.refreshed.get(key);
    if (times === undefined) {
      // A label set beyond any sane cardinality is not throttled rather than tracked.
      if (this.refreshed.size >= 1_000) return true;
      times = new Float64Array(this.bounds.length + 1).fill(Number.NEGATIVE_INFINITY);
      this.refreshed.set(key, times);
    }
    let bucket = 0;
    while (bucket < this.bounds.length && value > (this.bounds[bucket] ?? Number.POSITIVE_INFINITY)) bucket++;
    const now = performance.now();
    if (now - (times[bucket] ?? 0) < this.exemplarRefreshMs) return false;
    times[bucket] = now;
    return true;
  }
}
