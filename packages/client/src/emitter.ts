export type Listener<T> = (payload: T) => void | Promise<void>;

/**
 * A tiny typed event emitter that works the same in browsers and Node (no `EventTarget` subclassing, whose
 * event objects would hide the payload behind `detail`).
 *
 * @example
 * const events = new Emitter<{ ping: number }>();
 * const off = events.on("ping", (n) => console.log(n));
 * events.emit("ping", 1);
 * off();
 */
export class Emitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<Listener<never>>>();

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.#listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as Listener<never>);
    return () => this.off(event, listener);
  }

  /** Adds a listener that is removed after its first call. */
  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    const off = this.on(event, (payload) => {
      off();
      return listener(payload);
    });
    return off;
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    this.#listeners.get(event)?.delete(listener as Listener<never>);
  }

  /** A snapshot of the listeners of `event`, so listeners may add or remove listeners while being called. */
  listeners<K extends keyof Events>(event: K): Listener<Events[K]>[] {
    return [...(this.#listeners.get(event) ?? [])] as Listener<Events[K]>[];
  }

  /**
   * Calls every listener of `event` synchronously. A listener that throws or rejects does not stop the others;
   * its error goes to `onListenerError`.
   */
  emit<K extends keyof Events>(
    event: K,
    payload: Events[K],
    onListenerError: (error: unknown) => void,
  ): void {
    for (const listener of this.listeners(event)) {
      try {
        const result = listener(payload);
        if (result !== undefined) Promise.resolve(result).catch(onListenerError);
      } catch (error) {
        onListenerError(error);
      }
    }
  }
}
