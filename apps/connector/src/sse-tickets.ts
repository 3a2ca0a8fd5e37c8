import { randomBytes } from "node:crypto";
import type { Identity } from "./auth.js";

export type TicketOptions = {
  /** How long a ticket may wait for its stream. */
  ttlMs: number;
  /** Most tickets outstanding at once: issuing past it is refused until some are used or expire. */
  maxOutstanding: number;
  now?: () => number;
};

type Held = { identity: Identity; expiresAt: number };

/**
 * Short-lived, single-use tickets for `GET /sse` (an `EventSource` cannot send an Authorization header, and a
 * token in a URL ends up in logs and history). A ticket stands for an identity already verified from the
 * bearer token; it is random, unguessable, used at most once, and worth nothing after its TTL.
 */
export class SseTickets {
  private readonly held = new Map<string, Held>();
  private readonly now: () => number;

  constructor(private readonly options: TicketOptions) {
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.held.size;
  }

  /** A new ticket for `identity`, or undefined when too many are outstanding. */
  issue(identity: Identity): { ticket: string; expiresInMs: number } | undefined {
    this.sweep();
    if (this.held.size >= this.options.maxOutstanding) return undefined;
    const ticket = randomBytes(32).toString("base64url");
    // A ticket never outlives the token it was issued for.
    const expiresAt = Math.min(this.now() + this.options.ttlMs, identity.expiresAt);
    this.held.set(ticket, { identity, expiresAt });
    return { ticket, expiresInMs: Math.max(0, expiresAt - this.now()) };
  }

  /** The ticket's identity, once: a used, unknown or expired ticket gives undefined. */
  redeem(ticket: string): Identity | undefined {
    const held = this.held.get(ticket);
    if (!held) return undefined;
    this.held.delete(ticket);
    return held.expiresAt > this.now() ? held.identity : undefined;
  }

  /** Forgets expired tickets (on each issue, so the map stays bounded by what the TTL lets pile up). */
  private sweep(): void {
    const now = this.now();
    for (const [ticket, held] of this.held) if (held.expiresAt <= now) this.held.delete(ticket);
  }
}
