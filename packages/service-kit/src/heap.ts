import { constants, type PerformanceEntry, PerformanceObserver } from "node:perf_hooks";
import { getHeapStatistics, setFlagsFromString } from "node:v8";

/**
 * The least room a bounded heap gets to grow, whatever its live size: with a small heap (few connections, a
 * high message rate) a percentage alone would leave a few megabytes and full collections would run back to
 * back.
 */
export const MIN_HEAP_HEADROOM_BYTES = 32 * 2 ** 20;
/**
 * The most a bound allows (twice the live size; V8's own choice goes up to 4×): the bound is set again only
 * after each full collection, so a heap that grows fast from small stays within 2× of its live size meanwhile.
 */
const MAX_GROWTH_PERCENT = 100;

/**
 * The growth V8 is told to allow: `percent` of the live heap, but at least `MIN_HEAP_HEADROOM_BYTES`.
 *
 * @example
 * growthPercent(20, 200 * 2 ** 20); // 20
 * growthPercent(20, 40 * 2 ** 20); // 80: 32 MiB of 40 MiB
 */
export function growthPercent(percent: number, liveBytes: number): number {
  const floor = liveBytes > 0 ? Math.ceil((MIN_HEAP_HEADROOM_BYTES * 100) / liveBytes) : MAX_GROWTH_PERCENT;
  return Math.min(MAX_GROWTH_PERCENT, Math.max(Math.round(percent), floor));
}

/**
 * Bounds how far V8 lets the heap grow past what its last full collection kept (0: V8's own choice, which on
 * a machine with memory to spare lets a busy process's heap reach several times its live size). What a
 * connection holds until the client acks outlives the young collections and dies in the old generation; a
 * bound makes full collections come sooner, trading CPU for memory. The bound follows the live size after
 * each full collection (V8 reads the flag each time it sets the next limit). Returns a stop function.
 */
export function limitHeapGrowth(percent: number): () => void {
  if (percent <= 0) return () => undefined;
  let current = 0;
  const apply = () => {
    const next = growthPercent(percent, getHeapStatistics().used_heap_size);
    if (next === current) return;
    setFlagsFromString(`--heap-growing-percent=${next}`);
    current = next;
  };
  apply();
  const observer = new PerformanceObserver((list) => {
    const major = list.getEntries().some((e) => gcKind(e) === constants.NODE_PERFORMANCE_GC_MAJOR);
    if (major) apply();
  });
  observer.observe({ entryTypes: ["gc"] });
  return () => observer.disconnect();
}

function gcKind(entry: PerformanceEntry): number | undefined {
  return (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
}
