import type { CursorState } from "@herald/protocol";

export type AckPosition = { seq: number; prev: number };

export const emptyCursor = (): CursorState => ({ floor: 0, above: [], updatedAt: 0 });

/**
 * Records acks in a device cursor and advances its floor over every message that is now contiguously acked.
 * An ack `(seq, prev)` says "no message of this user lies strictly between prev and seq", so it extends the
 * floor when `prev <= floor`. Pure: returns a new state.
 *
 * @example
 * applyAcks({ floor: 0, above: [], updatedAt: 0 }, [{ seq: 7, prev: 3 }, { seq: 3, prev: 0 }], now).floor // 7
 */
export function applyAcks(state: CursorState, acks: AckPosition[], now: number): CursorState {
  const above = new Map<number, number>(state.above);
  for (const ack of acks) {
    if (ack.seq > state.floor) above.set(ack.seq, ack.prev);
  }
  return advance({ floor: state.floor, above: [...above], updatedAt: now });
}

/** Moves the floor over acked entries that directly follow it. */
export function advance(state: CursorState): CursorState {
  const sorted = [...state.above].sort((a, b) => a[0] - b[0]);
  let floor = state.floor;
  let index = 0;
  while (index < sorted.length) {
    const entry = sorted[index]!;
    if (entry[0] <= floor) {
      index++;
      continue;
    }
    if (entry[1] > floor) break;
    floor = entry[0];
    index++;
  }
  return { floor, above: sorted.slice(index), updatedAt: state.updatedAt };
}

/**
 * Advances a stuck cursor when the messages between the floor and the next acked entry no longer exist
 * (expired or trimmed by the backlog cap). `nextSeqAfter(seq)` is the user's first stored message after seq.
 */
export async function skipVanished(
  state: CursorState,
  nextSeqAfter: (seq: number) => Promise<number | undefined>,
  maxLookups = 64,
): Promise<CursorState> {
  let current = state;
  for (let lookups = 0; current.above.length > 0 && lookups < maxLookups; lookups++) {
    const next = await nextSeqAfter(current.floor);
    const acked = new Set(current.above.map(([seq]) => seq));
    if (next === undefined) {
      // Nothing stored after the floor: every acked entry refers to a message that is gone.
      const highest = Math.max(...acked);
      return { floor: highest, above: [], updatedAt: current.updatedAt };
    }
    if (!acked.has(next)) return current;
    current = advance({
      floor: next,
      above: current.above.filter(([seq]) => seq > next),
      updatedAt: current.updatedAt,
    });
  }
  return current;
}

/** Acked seqs above the floor, for replay to skip. */
export function ackedAbove(state: CursorState): Set<number> {
  return new Set(state.above.map(([seq]) => seq));
}
