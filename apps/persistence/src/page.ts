import { jsonDeeperThan, MAX_JSON_DEPTH } from "@herald/protocol";

/** What a replayed message costs in a reply beyond its stored body: its `seq`/`offset`, `prev` and separators. */
export const ENTRY_OVERHEAD_BYTES = 64;

/** How big a replay page may be, and where stored messages that can never be sent are reported. */
export type PageLimits = {
  /** Bytes one reply may carry (the NATS `max_payload` less headroom); read per page, it follows reconnects. */
  budget: () => number;
  /** A stored message no reply can carry (too big or too deep): skipped so the messages after it still go. */
  onUnsendable: (stream: string, seq: number, why: string) => void;
};

/** Why a stored entry can never be sent in a reply, or `undefined` when it can. */
export function unsendable(data: Uint8Array, budget: number): string | undefined {
  if (data.length + ENTRY_OVERHEAD_BYTES > budget) {
    return `${data.length} bytes stored, more than the ${budget} one reply may carry`;
  }
  // The stored `{id, data, ts}` adds one level around the data.
  if (jsonDeeperThan(data, MAX_JSON_DEPTH + 1)) return `nested deeper than ${MAX_JSON_DEPTH} levels`;
  return undefined;
}
