import type { JetStreamManager } from "@nats-io/jetstream";
import { sleep } from "./backoff.js";

/**
 * Waits until the named streams exist. Persistence owns and creates them; the other services only use them,
 * so they stay not-ready until persistence has run once.
 */
export async function waitForStreams(
  jsm: JetStreamManager,
  names: string[],
  signal: AbortSignal,
  onWaiting: (missing: string) => void,
): Promise<void> {
  for (const name of names) {
    let warned = false;
    while (!signal.aborted) {
      try {
        await jsm.streams.info(name);
        break;
      } catch {
        if (!warned) onWaiting(name);
        warned = true;
        await sleep(250, signal);
      }
    }
  }
}
