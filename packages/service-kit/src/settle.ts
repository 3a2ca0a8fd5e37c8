import { RequestError } from "@nats-io/transport-node";
import { sleepBackoff } from "./backoff.js";
import { isClusterForming } from "./js-errors.js";
import type { Logger } from "./logger.js";
import { isRequestTimeout } from "./request.js";

/**
 * A JetStream API call that failed because the cluster was not ready to answer, not because it refused:
 * a timeout or no responders (the API is not up yet, or a clustered stream forms or elects its leader), or
 * one of the cluster's "not yet" codes. Asked again later it may succeed; any other error (a real refusal, a
 * missing permission) will not. A cluster that never forms (too few servers for the replicas asked) keeps
 * answering "no suitable peers": the caller's deadline turns that into the error.
 */
export function isUnsettled(err: unknown): boolean {
  if (isRequestTimeout(err)) return true;
  if (err instanceof RequestError) return err.isNoResponders();
  // The library turns an API's "no responders" into an unexported JetStreamNotEnabled: its cause tells.
  if (err instanceof Error && err.cause instanceof RequestError) return isUnsettled(err.cause);
  return isClusterForming(err);
}

export type SettleOptions = {
  /** Said in the warning logged at the first retry. */
  what: string;
  logger?: Pick<Logger, "warn">;
  /** Give up (throwing the last error) once this long has passed since the first attempt. */
  deadlineMs?: number;
  /** Stops retrying: the last error is thrown. */
  signal?: AbortSignal;
  /**
   * Errors that only this step knows to be passing, asked again like unsettled ones: e.g. "stream not found"
   * from a step that creates the stream itself, while another replica's create of it has not settled.
   */
  alsoRetry?: (err: unknown) => boolean;
};

const SETTLE_BACKOFF = { initialMs: 250, maxMs: 2_000 };

/**
 * Runs `step` until it succeeds, asking again (with back-off) while it fails only because the cluster is
 * not settled (`isUnsettled`). Start-up uses it: several replicas starting against a forming cluster get
 * timeouts that a moment later would be answers. `step` must be safe to repeat.
 *
 * @example
 * await untilSettled(() => ensureConsumer(jsm, settings), { what: "the acks consumer", logger });
 */
export async function untilSettled<T>(step: () => Promise<T>, options: SettleOptions): Promise<T> {
  const deadline = Date.now() + (options.deadlineMs ?? 60_000);
  for (let attempt = 0; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      const passing = isUnsettled(err) || options.alsoRetry?.(err) === true;
      if (!passing || Date.now() >= deadline || options.signal?.aborted) throw err;
      if (attempt === 0)
        options.logger?.warn({ err }, `${options.what}: JetStream not settled; asking again`);
      await sleepBackoff(attempt, SETTLE_BACKOFF, options.signal);
    }
  }
}
