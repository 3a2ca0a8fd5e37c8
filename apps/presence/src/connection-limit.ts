import type { ConnectionInfo, DisconnectCommand, PresenceConnection } from "@herald/protocol";
import type { Registry } from "./registry.js";

export type LimitPolicy = "close-oldest" | "refuse-newest";

export type ConnectionLimitOptions = {
  /** Connections a user may hold across all connectors; 0 = unlimited. */
  max: number;
  policy: LimitPolicy;
  /** Monotonic milliseconds. */
  now: () => number;
  /** A command not followed by the connection's close within this long is forgotten (the close was lost). */
  forgetAfterMs?: number;
};

/** Close code the connector sends with a limit disconnect (ProtocolCloseCode.ConnectionLimit). */
export const CONNECTION_LIMIT_CODE = 4012;

/**
 * Enforces `PRESENCE_MAX_CONNECTIONS_PER_USER`: when an `open` report puts a user over the limit, picks the
 * connections to drop (the oldest, or the one that just opened) and returns disconnect commands for them.
 * Connections already told to go count as gone until their close arrives, so a burst of opens does not pick
 * the same victim twice.
 *
 * @example
 * const limit = new ConnectionLimit(registry, { max: 3, policy: "close-oldest", now: () => performance.now() });
 * for (const command of limit.check("c1", info)) publish(command);
 */
export class ConnectionLimit {
  /** `connectorId \0 connectionId` → when its disconnect was commanded. */
  private readonly doomed = new Map<string, number>();

  constructor(
    private readonly registry: Registry,
    private readonly options: ConnectionLimitOptions,
  ) {}

  get enabled(): boolean {
    return this.options.max > 0;
  }

  /** After `opened` was applied to the registry: the disconnects needed to bring its user back to the limit. */
  check(connectorId: string, opened: ConnectionInfo): DisconnectCommand[] {
    if (!this.enabled) return [];
    const { max, policy } = this.options;
    const live = this.registry
      .get(opened.userId)
      .connections.filter((c) => !this.doomed.has(key(c.connectorId, c.connectionId)));
    if (live.length <= max) return [];
    // `live` is sorted oldest first (since, connectorId, connectionId), the order every replica agrees on.
    let victims: PresenceConnection[];
    if (policy === "close-oldest") {
      victims = live.slice(0, live.length - max);
    } else {
      const newest = live.find(
        (c) => c.connectorId === connectorId && c.connectionId === opened.connectionId,
      );
      const rest = live.filter((c) => c !== newest).reverse();
      victims = (newest ? [newest, ...rest] : rest).slice(0, live.length - max);
    }
    const at = this.options.now();
    return victims.map((victim) => {
      this.doomed.set(key(victim.connectorId, victim.connectionId), at);
      return {
        userId: opened.userId,
        connectionId: victim.connectionId,
        code: CONNECTION_LIMIT_CODE,
        reason:
          policy === "close-oldest"
            ? `connection limit: at most ${max} per user; the oldest is closed`
            : `connection limit: at most ${max} per user; new connections are refused`,
      };
    });
  }

  /**
   * Forgets commanded connections that are gone (closed as told), and commands whose close never came (lost,
   * or ignored), so those connections count again and get a new command at the next open.
   */
  sweep(): void {
    if (this.doomed.size === 0) return;
    const oldest = this.options.now() - (this.options.forgetAfterMs ?? 30_000);
    for (const [k, at] of this.doomed) {
      const [connectorId = "", connectionId = ""] = k.split("\0");
      if (at < oldest || !this.registry.hasConnection(connectorId, connectionId)) this.doomed.delete(k);
    }
  }

  get pendingCount(): number {
    return this.doomed.size;
  }
}

function key(connectorId: string, connectionId: string): string {
  return `${connectorId}\0${connectionId}`;
}
