import type { ClientPool } from "./client-pool.js";
import { idPrefix } from "./frames.js";
import { windowed } from "./pacing.js";
import type { ReceiptCounter } from "./receipts.js";

export type ClosedLoop = {
  pool: ClientPool;
  receipts: ReceiptCounter;
  runId: string;
  /** PubAcks outstanding at once. */
  window: number;
  /** Messages published and not yet receipted, at most. */
  inflight: number;
  publish: (phase: number, i: number) => Promise<unknown>;
};

/**
 * One phase of a closed loop: `n` messages published with at most `inflight` of them not yet receipted (acked by
 * a device), until every receipt is in. The clients' counters are reset for the phase first.
 */
export async function closedLoopPhase(loop: ClosedLoop, phase: number, n: number): Promise<void> {
  await loop.pool.reset({ phase, messages: n, recordLatencies: false });
  loop.receipts.reset(idPrefix(loop.runId, phase), n);
  await windowed(n, loop.window, async (i) => {
    await loop.receipts.atLeast(i - loop.inflight + 1);
    return loop.publish(phase, i);
  });
  await loop.receipts.wait({ idleMs: 15_000, timeoutMs: 240_000 });
}
