import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

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
