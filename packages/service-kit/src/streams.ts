import type { JetStreamManager } from "@nats-io/jetstream";
import { sleep } from "./backoff.js";
import { isStreamNotFound } from "./js-errors.js";
import type { Logger } from "./logger.js";
import { isUnsettled } from "./settle.js";

/** Why a stream cannot be used yet, in words for a log line. */
export function waitingReason(err: unknown): string {
  if (isStreamNotFound(err)) return "not created yet (persistence creates it)";
  if (isUnsettled(err)) return "JetStream is not answering yet";
  return err instanceof Error ? err.message : String(err);
}

/**
 * Waits until the named streams exist. Persistence owns and creates them; the other services only use them,
 * so they stay not-ready until persistence has run once. `onWaiting` is told when a stream is first waited
 * for and again whenever the reason changes, so a refusal that no waiting will cure (a missing permission)
 * shows in the log instead of an endless "waiting".
 */
export async function waitForStreams(
  jsm: JetStreamManager,
  names: string[],
  signal: AbortSignal,
  onWaiting: (missing: string, reason: string, err: unknown) => void,
): Promise<void> {
  for (const name of names) {
    let told: string | undefined;
    while (!signal.aborted) {
      try {
        await jsm.streams.info(name);
        break;
      } catch (err) {
        const reason = waitingReason(err);
        if (reason !== told) onWaiting(name, reason, err);
        told = reason;
        await sleep(250, signal);
      }
    }
  }
}

/** The usual `onWaiting`: a stream not made yet is news (info); anything else is a warning with its error. */
export function logStreamWait(logger: Pick<Logger, "info" | "warn">) {
  return (stream: string, reason: string, err: unknown): void => {
    const message = `waiting for stream ${stream}: ${reason}`;
    if (isStreamNotFound(err)) logger.info({ stream }, message);
    else logger.warn({ stream, err }, message);
  };
}
