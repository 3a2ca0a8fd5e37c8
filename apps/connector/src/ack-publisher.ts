import type { AckBatch, AckedMessage } from "@herald/protocol";
import { type Backoff, type Logger, sleepBackoff } from "@herald/service-kit";
import { AckBundler, type AckReceipt } from "./ack-bundler.js";

export type AckPublisherDeps = {
  /** Writes one bundle durably (JetStream publish to this connector's ack subject). */
  publish: (payload: string) => Promise<unknown>;
  /** Told how many ids each stored bundle carried. */
  onStored: (count: number) => void;
  logger: Logger;
};

/** Gathering: a few milliseconds, or this many acks. */
const BUNDLE_DELAY_MS = 5;
const BUNDLE_MAX_ACKS = 2_000;
/** Retries ride out a short NATS outage; past them the bundle's acks are given up (logged). */
const MAX_RETRIES = 8;
const RETRY_BACKOFF: Backoff = { initialMs: 250, maxMs: 5_000 };

/** Acks of every session, written together every few milliseconds, retried through short NATS outages. */
export class AckPublisher {
  private readonly bundler: AckBundler;
  private readonly retries = new AbortController();

  constructor(private readonly deps: AckPublisherDeps) {
    this.bundler = new AckBundler({
      delayMs: BUNDLE_DELAY_MS,
      maxAcks: BUNDLE_MAX_ACKS,
      publish: (batches, acks) => this.write(batches, acks),
    });
  }

  /** Queues a device's acks for the next bundle; `receipt` hears whether it was stored. */
  publish(userId: string, deviceId: string, acks: AckedMessage[], receipt?: AckReceipt): void {
    const batch: AckBatch = { userId, deviceId, acks, at: Date.now() };
    this.bundler.add(JSON.stringify(batch), acks.length, receipt);
  }

  /** Shutdown: a failed write fails at once rather than wait out a retry. */
  stopRetrying(): void {
    this.retries.abort();
  }

  /** Writes whatever is pending (shutdown); rejects if a write failed. */
  flush(): Promise<void> {
    return this.bundler.flush();
  }

  /** Writes one bundle (an `AckBundle`, built from its batches' JSON texts). */
  private async write(batches: string[], acks: number): Promise<void> {
    const payload = `{"batches":[${batches.join(",")}]}`;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.deps.publish(payload);
        this.deps.onStored(acks);
        return;
      } catch (err) {
        if (attempt >= MAX_RETRIES || this.retries.signal.aborted) {
          // The cursor keeps these messages unacked: each device gets them again on its next connection.
          this.deps.logger.warn({ err, batches: batches.length, acks }, "acks not stored");
          throw err;
        }
        await sleepBackoff(attempt, RETRY_BACKOFF, this.retries.signal);
      }
    }
  }
}
