import type { ChannelMessageFrame, ClientFrame } from "@herald/protocol";
import { BROADCAST } from "./broadcast.js";
import type { ChannelHandler } from "./types.js";

interface ChannelState {
  handlers: Set<ChannelHandler>;
  /** The last offset received (or the `since` asked for); resubscribing resumes after it. */
  offset: number | undefined;
}

export { BROADCAST } from "./broadcast.js";

/** The channels this client wants, their handlers, and how far each one has been read. */
export class ChannelRegistry {
  readonly #channels = new Map<string, ChannelState>();

  /** Adds a handler; `true` when the channel is new, so a `subscribe` frame must be sent. */
  add(channel: string, handler: ChannelHandler, since: number | undefined): boolean {
    const existing = this.#channels.get(channel);
    if (existing !== undefined) {
      existing.handlers.add(handler);
      return false;
    }
    this.#channels.set(channel, { handlers: new Set([handler]), offset: since });
    return channel !== BROADCAST;
  }

  /** Removes a handler; `true` when it was the channel's last, so an `unsubscribe` frame must be sent. */
  remove(channel: string, handler: ChannelHandler): boolean {
    const state = this.#channels.get(channel);
    if (state === undefined || !state.handlers.delete(handler)) return false;
    if (state.handlers.size > 0) return false;
    this.#channels.delete(channel);
    return channel !== BROADCAST;
  }

  /** Forgets a channel the server ended, so it is not subscribed again on the next connection. */
  drop(channel: string): boolean {
    return channel !== BROADCAST && this.#channels.delete(channel);
  }

  offset(channel: string): number | undefined {
    return this.#channels.get(channel)?.offset;
  }

  subscribeFrame(channel: string): Extract<ClientFrame, { type: "subscribe" }> {
    const offset = this.#channels.get(channel)?.offset;
    return offset === undefined
      ? { type: "subscribe", channel }
      : { type: "subscribe", channel, since: offset };
  }

  /** One `subscribe` frame per channel, resuming after the last offset seen. */
  subscribeFrames(): Extract<ClientFrame, { type: "subscribe" }>[] {
    return [...this.#channels.keys()]
      .filter((channel) => channel !== BROADCAST)
      .map((channel) => this.subscribeFrame(channel));
  }

  /**
   * Records a channel message and calls its handlers, unless nobody wants it or it was already delivered (a
   * resubscription overlapping what arrived before the disconnect). Channel messages are not acked, so a
   * failing handler is only reported.
   */
  deliver(frame: ChannelMessageFrame, onError: (error: unknown) => void): void {
    const state = this.#channels.get(frame.channel);
    if (state === undefined) return;
    if (state.offset !== undefined && frame.offset <= state.offset) return;
    state.offset = frame.offset;
    const { id, channel, offset, data, ts } = frame;
    for (const handler of [...state.handlers]) {
      try {
        const result = handler({ id, channel, offset, data, ts });
        if (result !== undefined) Promise.resolve(result).catch(onError);
      } catch (error) {
        onError(error);
      }
    }
  }
}
