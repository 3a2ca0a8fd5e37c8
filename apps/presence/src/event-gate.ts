import type { PresenceEvent } from "@herald/protocol";

/**
 * Decides which `online`/`offline` events this replica publishes, so that across replicas each transition is
 * published once: only the lease holder publishes (`enabled`), every other replica keeps track of what has
 * been announced by watching the event subject.
 *
 * The state is kept as a difference: `pending` holds the users whose announced state (the last event seen)
 * differs from the registry. In the steady state it is empty, so tracking costs nothing per user. When this
 * replica becomes the emitter it publishes exactly the pending differences (net transitions missed while the
 * previous emitter was gone) and nothing else.
 *
 * @example
 * const gate = new EventGate(publish, (u) => registry.isOnline(u));
 * gate.transition("alice", true); // published only while enabled
 */
export class EventGate {
  private readonly pending = new Set<string>();
  private enabled = false;

  constructor(
    private readonly publish: (event: PresenceEvent) => void,
    private readonly isOnline: (userId: string) => boolean,
    private readonly now: () => number = Date.now,
  ) {}

  /** A registry transition: publish it, or remember that it is not announced yet. */
  transition(userId: string, online: boolean): void {
    if (this.enabled) {
      this.publish({ type: online ? "online" : "offline", userId, at: this.now() });
      return;
    }
    // The announced state did not change, the registry flipped: the difference flips too.
    if (!this.pending.delete(userId)) this.pending.add(userId);
  }

  /** An event seen on the event subject (published by the current emitter, possibly this replica). */
  observe(event: PresenceEvent): void {
    // The emitter's own view is authoritative; late events from a former emitter must not disturb it.
    if (this.enabled) return;
    const announcedOnline = event.type === "online";
    if (announcedOnline === this.isOnline(event.userId)) this.pending.delete(event.userId);
    else this.pending.add(event.userId);
  }

  /**
   * Becomes (or stops being) the emitter. Becoming it publishes every pending difference first, in one go,
   * so no net transition is lost across a failover.
   */
  setEnabled(enabled: boolean): void {
    if (enabled === this.enabled) return;
    this.enabled = enabled;
    if (!enabled) return;
    const at = this.now();
    for (const userId of this.pending) {
      this.publish({ type: this.isOnline(userId) ? "online" : "offline", userId, at });
    }
    this.pending.clear();
  }

  /**
   * Takes the registry as what has been announced (a replica that has just synced and is not the emitter:
   * the running emitter announced those users already, or will, and this replica will see it).
   */
  resetBaseline(): void {
    this.pending.clear();
  }

  get isEnabled(): boolean {
    return this.enabled;
  }

  get pendingCount(): number {
    return this.pending.size;
  }
}
