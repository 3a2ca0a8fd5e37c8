/**
 * The longest time between two consecutive arrivals of one key (a user, a channel) from `since` on, and whose it
 * was: how long a failure held up the deliveries a test watches.
 */
export function longestGap(timesByKey: Map<string, number[]>, since: number): { ms: number; key: string } {
  let longest = { ms: 0, key: "" };
  for (const [key, times] of timesByKey) {
    const after = times.filter((t) => t >= since);
    for (let i = 1; i < after.length; i++) {
      const ms = after[i]! - after[i - 1]!;
      if (ms > longest.ms) longest = { ms, key };
    }
  }
  return longest;
}
