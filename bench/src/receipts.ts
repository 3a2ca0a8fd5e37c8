import type { Subjects } from "@herald/protocol";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { nowUs, sleep } from "./clock.js";
import { indexOfId } from "./frames.js";

/**
 * Counts receipts (`<p>.receipt.<userToken>`, emitted by persistence once an ack is applied to the cursor) for
 * the messages of one phase: a receipt for every message means every message was delivered and acked.
 *
 * @example
 * const receipts = new ReceiptCounter(nc, s); receipts.reset("run-2-", 50_000);
 */
export class ReceiptCounter {
  #prefix = "";
  #seen = new Uint8Array(0);
  #unique = 0;
  #lastUs = 0;
  /** Callers of `atLeast`, in increasing `count` (they publish in order). */
  #waiters: { count: number; resolve: () => void }[] = [];
  #sub: Subscription | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly s: Subjects,
  ) {
    this.resume();
  }

  /** Stops receiving receipts (each one costs nats-server and this process CPU that the services then lack). */
  pause(): void {
    this.#sub?.unsubscribe();
    this.#sub = undefined;
  }

  resume(): void {
    if (this.#sub) return;
    const decoder = new TextDecoder();
    this.#sub = this.nc.subscribe(this.s.receipt("*"), {
      callback: (_error, msg) => {
        const { id } = JSON.parse(decoder.decode(msg.data)) as { id?: string };
        if (typeof id !== "string" || !id.startsWith(this.#prefix)) return;
        const i = indexOfId(id);
        if (i < 0 || i >= this.#seen.length || this.#seen[i]) return;
        this.#seen[i] = 1;
        this.#unique++;
        this.#lastUs = nowUs();
        while (this.#waiters.length > 0 && (this.#waiters[0]?.count ?? 0) <= this.#unique) {
          this.#waiters.shift()?.resolve();
        }
      },
    });
  }

  /** Starts counting the ids `<idPrefix><i>` for i in [0, messages). */
  reset(idPrefix: string, messages: number): void {
    this.#prefix = idPrefix;
    this.#seen = new Uint8Array(messages);
    this.#unique = 0;
    this.#lastUs = 0;
    this.#waiters = [];
  }

  get unique(): number {
    return this.#unique;
  }

  /** Monotonic µs of the newest receipt counted. */
  get lastUs(): number {
    return this.#lastUs;
  }

  /** Resolves once at least `count` receipts were counted (at once when already so). */
  atLeast(count: number): Promise<void> | undefined {
    if (this.#unique >= count) return undefined;
    return new Promise((resolve) => {
      this.#waiters.push({ count, resolve });
    });
  }

  /** Polls until every receipt arrived, nothing new came for `idleMs`, or `timeoutMs` passed. */
  async wait(options: { idleMs: number; timeoutMs: number }): Promise<number> {
    const deadline = Date.now() + options.timeoutMs;
    let last = this.#unique;
    let lastChange = Date.now();
    while (
      this.#unique < this.#seen.length &&
      Date.now() < deadline &&
      Date.now() - lastChange < options.idleMs
    ) {
      await sleep(20);
      if (this.#unique !== last) {
        last = this.#unique;
        lastChange = Date.now();
      }
    }
    return this.#unique;
  }

  stop(): void {
    this.pause();
  }
}
