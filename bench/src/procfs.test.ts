import { describe, expect, it } from "vitest";
import { busyCores, cpuSeconds, machineBusySeconds, parseHeraldMetrics, rssBytes } from "./procfs.js";

describe("procfs", () => {
  it("reads this process's RSS and CPU time", async () => {
    const rss = await rssBytes(process.pid);
    expect(rss).toBeGreaterThan(1024 * 1024);
    expect(Math.abs(rss - process.memoryUsage().rss)).toBeLessThan(64 * 1024 * 1024);
    expect(await cpuSeconds(process.pid)).toBeGreaterThan(0);
    expect(await machineBusySeconds()).toBeGreaterThanOrEqual(await cpuSeconds(process.pid));
  });
});

describe("parseHeraldMetrics", () => {
  it("keeps Herald's series with their labels and drops comments, buckets and other series", () => {
    const text = [
      "# HELP herald_router_retries_total retries",
      "# TYPE herald_router_retries_total counter",
      "herald_router_retries_total 3",
      'herald_connector_messages_sent_total{kind="first"} 5000',
      'herald_router_routing_duration_seconds_bucket{le="0.1"} 7',
      "herald_router_routing_duration_seconds_sum 0.25",
      "process_cpu_seconds_total 1.5",
      'herald_process_cpu_seconds_total{service="router"} 1.5',
      'herald_nodejs_heap_size_used_bytes{service="router"} 1000',
      'herald_nodejs_eventloop_lag_p99_seconds{service="router"} 0.02',
    ].join("\n");
    expect(parseHeraldMetrics(text)).toEqual({
      herald_router_retries_total: 3,
      'herald_connector_messages_sent_total{kind="first"}': 5000,
      herald_router_routing_duration_seconds_sum: 0.25,
      'herald_nodejs_eventloop_lag_p99_seconds{service="router"}': 0.02,
    });
  });
});

describe("busyCores", () => {
  it("is a reading's seconds over the wall time, unreadable processes left out, 0 for no time", () => {
    expect(busyCores({ nats: 1.5, connector: 2, bench: 0.5, gone: Number.NaN }, 4)).toBe(1);
    expect(busyCores({ nats: 1 }, 0)).toBe(0);
  });
});
