import type { AckBundle, AckedMessage } from "@herald/protocol";
import { type Backoff, sleepBackoff } from "@herald/service-kit";
import { AckBundler } from "./ack-bundler.js";

export type AckPublisherDeps = {
  /** Writes one bundle durably (JetStream publish to this connector's ack subject). */
  publish: (payload: Uint8Array) => Promise<unknown>;
  /** Told how many ids each stored bundle carried. */
  onStored: (count: number) => void;
};

/** Gathering: a few milliseconds, or this many acks. */
const BUNDLE_DELAY_MS = 5;
const BUNDLE_MAX_ACKS = 2_000;
/** Retries ride out a short NATS outage; past them the acks' sessions log the failure. */
const MAX_RETRIES = 8;
const RETRY_BACKOFF: Backoff = { initialMs: 250, maxMs: 5_000 };

/** Acks of every session, written together every few milliseconds, retried through short NATS outages. */
export class AckPublisher {
  private readonly encoder = new TextEncoder();
  private readonly bundler: AckBundler;
  private readonly retries = new AbortController();

  constructor(private readonly deps: AckPublisherDeps) {
    this.bundler = new AckBundler({
      delayMs: BUNDLE_DELAY_MS,
      maxAcks: BUNDLE_MAX_ACKS,
      publish: (batches) => this.write({ batches }),
    });
  }

  /** Settles when the bundle carrying these acks is stored (or could not be). */
  publish(userId: string, deviceId: string, acks: AckedMessage[]): Promise<void> {
    return this.bundler.add({ userId, deviceId, acks, at: Date.now() });
  }

  /** Shutdown: a failed write fails at once rather than wait out a retry. */
  stopRetrying(): void {
    this.retries.abort();
  }

  /** Writes whatever is pending (shutdown). */
  flush(): Promise<void> {
    return this.bundler.flush();
  }

  private async write(bundle: AckBundle): Promise<void> {
    const payload = this.encoder.encode(JSON.stringify(bundle));
    for (let attempt = 0; ; attempt++) {
      try {
        await this.deps.publish(payload);
        this.deps.onStored(bundle.batches.reduce((sum, b) => sum + b.acks.length, 0));
        return;
      } catch (err) {
        if (attempt >= MAX_RETRIES || this.retries.signal.aborted) throw err;
        await sleepBackoff(attempt, RETRY_BACKOFF, this.retries.signal);
      }
    }
  }
}
