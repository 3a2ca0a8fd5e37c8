import type { UserMessageFrame } from "@herald/protocol";
import { HandlerError } from "./errors.js";
import type { SeenIds } from "./seen-ids.js";
import type { HeraldMessage, MessageHandler } from "./types.js";

export interface InboxDeps {
  seen: SeenIds;
  autoAck: boolean;
  handlers: () => MessageHandler[];
  /** Sends an ack for `id` if the connection that delivered it (`generation`) is still the current one. */
  ack: (id: string, generation: number) => void;
  onError: (error: HandlerError) => void;
}

interface Delivery {
  frame: UserMessageFrame;
  generation: number;
}

/**
 * Runs the `message` handlers one message at a time, in arrival order, so handlers see messages in publish
 * order and a slow handler slows intake instead of piling up work. Ids are remembered once acked: a
 * redelivery of one (its ack was lost) is acked again without calling the handlers.
 */
export class Inbox {
  readonly #queue: Delivery[] = [];
  #draining = false;

  constructor(private readonly deps: InboxDeps) {}

  get queued(): number {
    return this.#queue.length;
  }

  push(frame: UserMessageFrame, generation: number): void {
    this.#queue.push({ frame, generation });
    if (!this.#draining) void this.#drain();
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      for (let next = this.#queue.shift(); next !== undefined; next = this.#queue.shift()) {
        await this.#handle(next);
      }
    } finally {
      this.#draining = false;
    }
  }

  async #handle({ frame, generation }: Delivery): Promise<void> {
    const { seen, autoAck } = this.deps;
    if (seen.has(frame.id)) {
      this.deps.ack(frame.id, generation);
      return;
    }
    const handlers = this.deps.handlers();
    // Nobody is listening yet: leave it unacked rather than acking a message no code has seen.
    if (handlers.length === 0) return;
    const message = this.#message(frame, generation);
    try {
      for (const handler of handlers) {
        await handler(message);
      }
    } catch (error) {
      this.deps.onError(new HandlerError(frame.id, error));
      return;
    }
    if (autoAck) message.ack();
  }

  #message(frame: UserMessageFrame, generation: number): HeraldMessage {
    let acked = false;
    return {
      id: frame.id,
      seq: frame.seq,
      data: frame.data,
      ts: frame.ts,
      ack: () => {
        if (acked) return;
        acked = true;
        this.deps.seen.add(frame.id);
        this.deps.ack(frame.id, generation);
      },
    };
  }
}
