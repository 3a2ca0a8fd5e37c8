import type { KV, KvWatchEntry } from "@nats-io/kv";
import { sleepBackoff } from "./backoff.js";

export type LiveReplicasOptions = {
  /** Opens (creating if needed) a bucket whose keys expire (`ttl`), so keys of replicas long gone vanish. */
  open: () => Promise<KV>;
  /** This replica's id; written (as a valid KV key) every `renewMs`. */
  id: string;
  /** A replica not heard from for this long is gone. */
  ttlMs: number;
  renewMs: number;
  onError?: (err: unknown) => void;
  /** Monotonic milliseconds. */
  now?: () => number;
};

/** The watch is restarted after a failure: doubling from 250 ms, at most 5 s. */
const REWATCH = { initialMs: 250, maxMs: 5_000 };

/** A KV key from any replica id: characters a key may not hold become `_`. */
export function replicaKey(id: string): string {
  return id.replace(/[^-\w=]/g, "_") || "_";
}

/**
 * Which replicas of a service are alive, for sharing work among them: each renews its own key and watches the
 * others'. A replica counts as alive while its key was written within `ttlMs` by this process's own clock, so
 * no clocks are compared across machines (as with `Lease`).
 *
 * @example
 * const live = new LiveReplicas({ open: () => kvm.create("routers", { ttl: 60_000 }), id: "r-1", ttlMs: 1500, renewMs: 300 });
 * live.start();
 * live.count(); // 1 until the others are seen
 */
export class LiveReplicas {
  private readonly key: string;
  private readonly seen = new Map<string, number>();
  private readonly abort = new AbortController();
  private readonly now: () => number;
  private kv: KV | undefined;
  private timer: NodeJS.Timeout | undefined;
  private watching: Promise<void> | undefined;
  private stopWatch: (() => void) | undefined;
  private seenSelf = false;

  constructor(private readonly options: LiveReplicasOptions) {
    this.key = replicaKey(options.id);
    this.now = options.now ?? (() => performance.now());
  }

  /** True once the watch has delivered this replica's own key: every replica written before it was seen. */
  get ready(): boolean {
    return this.seenSelf;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.renew(), this.options.renewMs);
    this.watching = this.renew().then(() => this.watchLoop());
  }

  /** Replicas alive now, this one included. */
  count(): number {
    const since = this.now() - this.options.ttlMs;
    let alive = 1;
    for (const [key, at] of this.seen) {
      if (at < since) this.seen.delete(key);
      else if (key !== this.key) alive++;
    }
    return alive;
  }

  /** Stops renewing and watching, and deletes this replica's key so the others count it gone at once. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.abort.abort();
    this.stopWatch?.();
    await this.watching;
    await this.kv?.delete(this.key).catch(() => {});
  }

  private async bucket(): Promise<KV> {
    this.kv ??= await this.options.open();
    return this.kv;
  }

  private async renew(): Promise<void> {
    if (this.abort.signal.aborted) return;
    try {
      await (await this.bucket()).put(this.key, "");
    } catch (err) {
      this.kv = undefined;
      this.options.onError?.(err);
    }
  }

  private async watchLoop(): Promise<void> {
    const { signal } = this.abort;
    for (let failures = 0; !signal.aborted; ) {
      try {
        const entries = await (await this.bucket()).watch();
        this.stopWatch = () => entries.stop();
        if (signal.aborted) entries.stop();
        for await (const entry of entries) {
          failures = 0;
          this.apply(entry);
        }
      } catch (err) {
        this.kv = undefined;
        if (!signal.aborted) this.options.onError?.(err);
      }
      if (!signal.aborted) await sleepBackoff(failures++, REWATCH, signal);
    }
  }

  private apply(entry: KvWatchEntry): void {
    if (entry.operation !== "PUT") this.seen.delete(entry.key);
    // A value from before the watch may be a dead replica's last: counted only until two renewals are missed.
    else if (entry.isUpdate || this.seen.has(entry.key)) this.seen.set(entry.key, this.now());
    else this.seen.set(entry.key, this.now() - this.options.ttlMs + 2 * this.options.renewMs);
    if (entry.key === this.key && entry.operation === "PUT") this.seenSelf = true;
  }
}
