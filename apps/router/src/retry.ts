import { backoffMs } from "@herald/service-kit";

/** The longest a failed write waits before its message comes back. */
export const MAX_RETRY_DELAY_MS = 30_000;
/** A fenced message comes back after the one it waits for; this is the least it waits. */
export const FENCED_RETRY_MS = 250;

/** Retry delays after a failed write: doubling from 500 ms, at most `MAX_RETRY_DELAY_MS`. */
export function retryDelayMs(deliveryCount: number): number {
  return backoffMs(deliveryCount - 1, { initialMs: 500, maxMs: MAX_RETRY_DELAY_MS });
}
