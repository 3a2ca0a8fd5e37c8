/** Cumulative bucket counts of one Prometheus histogram: upper edge (seconds; Infinity for +Inf) → count. */
export type Buckets = Map<number, number>;

/** The lag of one hop over a run, read from a service's histogram (bucket edges, so "at most"). */
export type HopLag = {
  messages: number;
  /** Upper edge of the bucket holding the median and the 99th percentile, ms (null past the last edge). */
  p50AtMostMs: number | null;
  p99AtMostMs: number | null;
  /** Share of the messages within 20 ms (a bucket edge). */
  within20Ms: number;
};

/**
 * The `_bucket` series of `name` in a /metrics page, summed over series whose labels contain `labelMatch`
 * (all when omitted).
 */
export function parseBuckets(text: string, name: string, labelMatch = ""): Buckets {
  const buckets: Buckets = new Map();
  const prefix = `${name}_bucket{`;
  for (const line of text.split("\n")) {
    if (!line.startsWith(prefix) || !line.includes(labelMatch)) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (le === undefined || !Number.isFinite(value)) continue;
    const edge = le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le);
    buckets.set(edge, (buckets.get(edge) ?? 0) + value);
  }
  return buckets;
}

/** What was counted between two scrapes of the same histogram. */
export function bucketsDelta(before: Buckets, after: Buckets): Buckets {
  const delta: Buckets = new Map();
  for (const [edge, count] of after) delta.set(edge, count - (before.get(edge) ?? 0));
  return delta;
}

/** Percentiles as bucket upper edges, and the share within 20 ms; undefined when nothing was counted. */
export function hopLag(buckets: Buckets): HopLag | undefined {
  const edges = [...buckets.keys()].sort((a, b) => a - b);
  const total = buckets.get(Number.POSITIVE_INFINITY) ?? 0;
  if (total <= 0) return undefined;
  const atMost = (q: number) => {
    const edge = edges.find((e) => (buckets.get(e) ?? 0) >= q * total);
    return edge === undefined || !Number.isFinite(edge) ? null : Math.round(edge * 1e6) / 1e3;
  };
  return {
    messages: total,
    p50AtMostMs: atMost(0.5),
    p99AtMostMs: atMost(0.99),
    within20Ms: Math.round(((buckets.get(0.02) ?? 0) / total) * 1e4) / 1e4,
  };
}
