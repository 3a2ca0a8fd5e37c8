import {
  type ConnectionInfo,
  ConnectionSetDigest,
  type PresenceConnection,
  type PresenceCountReply,
  type PresenceReply,
} from "@herald/protocol";

/**
 * One tracked connection. Kept small on purpose (≤ 500 bytes per connection including map entries): the
 * connector is shared by reference, and a user's connections form an intrusive singly linked list through
 * `next`, so a user costs one map entry and no array.
 */
type Conn = {
  readonly id: string;
  readonly userId: string;
  readonly deviceId: string;
  readonly since: number;
  readonly connector: ConnectorEntry;
  next: Conn | undefined;
  /** The generation of the last heartbeat snapshot that listed this connection unchanged; `GONE` once removed. */
  mark: number;
};

/** `Conn.mark` of a connection no longer held, so a remembered part can tell without a lookup. */
const GONE = -1;

/**
 * A heartbeat being compared with the registry part by part: entries the registry holds exactly are only
 * marked, the others are kept to apply at the end. In the steady state nothing is kept and nothing changes.
 */
export type Snapshot = {
  readonly connectorId: string;
  readonly generation: number;
  /** Entries found unchanged (and marked). */
  seen: number;
  /** Entries that are new or differ, applied in order by `endSnapshot` (a repeated id: the last wins). */
  readonly changed: ConnectionInfo[];
  readonly changedIds: Set<string>;
};

/** The connections one clean heartbeat part listed (opaque outside the registry), to mark them again. */
export type PartMarks = { readonly connectorId: string; readonly conns: readonly Conn[] };

type ConnectorEntry = {
  readonly id: string;
  readonly conns: Map<string, Conn>;
  /** Digest of `conns`, kept as the connector keeps its own, to compare with its beats. */
  readonly digest: ConnectionSetDigest;
};

/** A held connection as the connector reported it, for the digest. */
const infoOf = (conn: Conn): ConnectionInfo => ({
  connectionId: conn.id,
  userId: conn.userId,
  deviceId: conn.deviceId,
  since: conn.since,
});

/** Called when a user's first connection appears (`true`) or last one goes (`false`). */
export type TransitionListener = (userId: string, online: boolean) => void;

/**
 * Who is connected where: user → connections, connector → connections. Pure data, no I/O and no clock, so
 * every replica fed the same reports holds the same view. Transitions are reported synchronously, in order.
 *
 * @example
 * const registry = new Registry((userId, online) => console.log(userId, online));
 * registry.open("c1", { connectionId: "x", userId: "alice", deviceId: "phone", since: 1 }); // alice true
 */
export class Registry {
  private readonly users = new Map<string, Conn>();
  private readonly connectors = new Map<string, ConnectorEntry>();
  private connectionCount = 0;
  private generation = 0;
  /** While a heartbeat is applied: each touched user's state before it, so only net changes are reported. */
  private batch: Map<string, boolean> | undefined;

  constructor(private readonly listener: TransitionListener) {}

  /** Adds (or replaces, when the id is known on that connector) one connection. */
  open(connectorId: string, info: ConnectionInfo): void {
    const connector = this.connector(connectorId);
    const existing = connector.conns.get(info.connectionId);
    if (existing) {
      if (
        existing.userId === info.userId &&
        existing.deviceId === info.deviceId &&
        existing.since === info.since
      ) {
        return;
      }
      // Same id with other details: a connector bug or a reused id. The newest report wins, without a
      // spurious offline/online pair when the user stays the same.
      this.unlink(existing, existing.userId !== info.userId);
      connector.conns.delete(existing.id);
      connector.digest.remove(infoOf(existing));
      existing.mark = GONE;
      this.connectionCount--;
    }
    const conn: Conn = {
      id: info.connectionId,
      userId: info.userId,
      deviceId: info.deviceId,
      since: info.since,
      connector,
      next: undefined,
      mark: 0,
    };
    connector.conns.set(conn.id, conn);
    connector.digest.add(info);
    this.connectionCount++;
    const head = this.users.get(conn.userId);
    conn.next = head;
    this.users.set(conn.userId, conn);
    if (!head && !(existing && existing.userId === info.userId)) this.onTransition(conn.userId, true);
  }

  /** Removes one connection; unknown ids are ignored (a close may overtake nothing, or repeat). */
  close(connectorId: string, connectionId: string): void {
    const connector = this.connectors.get(connectorId);
    const conn = connector?.conns.get(connectionId);
    if (!connector || !conn) return;
    connector.conns.delete(connectionId);
    connector.digest.remove(infoOf(conn));
    conn.mark = GONE;
    this.connectionCount--;
    this.unlink(conn, true);
  }

  /** Whether a connector's beat (`count`, `hash`) describes exactly the connections held for it. */
  matchesDigest(connectorId: string, count: number, hash: string): boolean {
    const connector = this.connectors.get(connectorId);
    return connector ? connector.digest.matches(count, hash) : count === 0;
  }

  /** Makes `connections` the exact set held by `connectorId` (a heartbeat), reporting only net changes. */
  replace(connectorId: string, connections: readonly ConnectionInfo[]): void {
    const snapshot = this.beginSnapshot(connectorId);
    this.snapshotPart(snapshot, connections);
    this.endSnapshot(snapshot);
  }

  /**
   * Starts comparing a heartbeat of `connectorId` that arrives in parts: feed each part to `snapshotPart`,
   * then `endSnapshot` makes the listed connections the connector's exact set. Each part costs one lookup per
   * entry, and nothing is collected while the registry already agrees, so a heartbeat of tens of thousands
   * of connections never holds the event loop for long.
   */
  beginSnapshot(connectorId: string): Snapshot {
    this.connector(connectorId);
    return { connectorId, generation: ++this.generation, seen: 0, changed: [], changedIds: new Set() };
  }

  /**
   * Compares one part with the registry. With `collect`, returns the part's connections when every entry was
   * held exactly (a clean part), so an identical part next time can be applied by `markPart` alone.
   */
  snapshotPart(
    snapshot: Snapshot,
    connections: readonly ConnectionInfo[],
    collect = false,
  ): PartMarks | undefined {
    const connector = this.connector(snapshot.connectorId);
    const { changed, changedIds, generation } = snapshot;
    const conns: Conn[] | undefined = collect ? [] : undefined;
    let clean = true;
    for (const info of connections) {
      // A later entry of an id already changed goes in order after it, so the last one listed wins.
      if (changedIds.size > 0 && changedIds.has(info.connectionId)) {
        changed.push(info);
        clean = false;
        continue;
      }
      const conn = connector.conns.get(info.connectionId);
      if (
        conn !== undefined &&
        conn.userId === info.userId &&
        conn.deviceId === info.deviceId &&
        conn.since === info.since
      ) {
        if (conn.mark !== generation) snapshot.seen++;
        conn.mark = generation;
        conns?.push(conn);
        continue;
      }
      changed.push(info);
      changedIds.add(info.connectionId);
      clean = false;
    }
    return clean && conns ? { connectorId: snapshot.connectorId, conns } : undefined;
  }

  /** Whether every connection of a clean part is still held, unchanged (same object). */
  holdsPart(marks: PartMarks): boolean {
    if (!this.connectors.has(marks.connectorId)) return false;
    // A removed or replaced connection is marked GONE; connection objects never change otherwise.
    for (const conn of marks.conns) if (conn.mark === GONE) return false;
    return true;
  }

  /** Applies a part identical to a clean one seen before (check `holdsPart` first): marks it, nothing more. */
  markPart(snapshot: Snapshot, marks: PartMarks): void {
    const { generation } = snapshot;
    for (const conn of marks.conns) {
      if (conn.mark !== generation) snapshot.seen++;
      conn.mark = generation;
    }
  }

  /**
   * Applies a complete snapshot: opens what is new or changed (if `accept`ed), closes what it did not list.
   */
  endSnapshot(snapshot: Snapshot, accept: (info: ConnectionInfo) => boolean = () => true): void {
    const { connectorId, generation, changed } = snapshot;
    const connector = this.connector(connectorId);
    // Fast path, the steady state: every connection listed unchanged, and nothing else held.
    if (changed.length === 0 && snapshot.seen === connector.conns.size) return;
    const batch = new Map<string, boolean>();
    this.batch = batch;
    try {
      for (const info of changed) {
        if (!accept(info)) continue;
        this.open(connectorId, info);
        const conn = connector.conns.get(info.connectionId);
        if (conn) conn.mark = generation;
      }
      for (const conn of [...connector.conns.values()]) {
        if (conn.mark !== generation) this.close(connectorId, conn.id);
      }
    } finally {
      this.batch = undefined;
    }
    for (const [userId, wasOnline] of batch) {
      const online = this.users.has(userId);
      if (online !== wasOnline) this.listener(userId, online);
    }
  }

  /** Forgets a connector and all its connections (shutdown, silence, restart). */
  removeConnector(connectorId: string): void {
    const connector = this.connectors.get(connectorId);
    if (!connector) return;
    for (const conn of connector.conns.values()) {
      this.unlink(conn, true);
      conn.mark = GONE;
    }
    this.connectionCount -= connector.conns.size;
    this.connectors.delete(connectorId);
  }

  /** Registers a connector that has no connections yet, so its heartbeats count as liveness. */
  touchConnector(connectorId: string): void {
    this.connector(connectorId);
  }

  hasConnection(connectorId: string, connectionId: string): boolean {
    return this.connectors.get(connectorId)?.conns.has(connectionId) ?? false;
  }

  hasConnector(connectorId: string): boolean {
    return this.connectors.has(connectorId);
  }

  connectorIds(): string[] {
    return [...this.connectors.keys()];
  }

  isOnline(userId: string): boolean {
    return this.users.has(userId);
  }

  /** The answer to a presence query; connections sorted so every replica answers byte for byte the same. */
  get(userId: string): PresenceReply {
    const connections: PresenceConnection[] = [];
    for (let conn = this.users.get(userId); conn; conn = conn.next) {
      connections.push({
        connectionId: conn.id,
        deviceId: conn.deviceId,
        connectorId: conn.connector.id,
        since: conn.since,
      });
    }
    connections.sort(
      (a, b) =>
        a.since - b.since || compare(a.connectorId, b.connectorId) || compare(a.connectionId, b.connectionId),
    );
    return { userId, online: connections.length > 0, connections };
  }

  count(): PresenceCountReply {
    // No prototype: a connector named `__proto__` is a key like any other.
    const connectors: PresenceCountReply["connectors"] = Object.create(null);
    for (const [id, connector] of this.connectors) connectors[id] = { connections: connector.conns.size };
    return { users: this.users.size, connections: this.connectionCount, connectors };
  }

  get userCount(): number {
    return this.users.size;
  }

  get connectionTotal(): number {
    return this.connectionCount;
  }

  get connectorCount(): number {
    return this.connectors.size;
  }

  private onTransition(userId: string, online: boolean): void {
    if (!this.batch) this.listener(userId, online);
    else if (!this.batch.has(userId)) this.batch.set(userId, !online);
  }

  private connector(id: string): ConnectorEntry {
    let connector = this.connectors.get(id);
    if (!connector) {
      connector = { id, conns: new Map(), digest: new ConnectionSetDigest() };
      this.connectors.set(id, connector);
    }
    return connector;
  }

  /** Takes `conn` out of its user's list; reports offline when it was the last one and `notify` is set. */
  private unlink(conn: Conn, notify: boolean): void {
    const head = this.users.get(conn.userId);
    if (head === conn) {
      if (conn.next) this.users.set(conn.userId, conn.next);
      else {
        this.users.delete(conn.userId);
        if (notify) this.onTransition(conn.userId, false);
      }
      return;
    }
    for (let prev = head; prev; prev = prev.next) {
      if (prev.next === conn) {
        prev.next = conn.next;
        return;
      }
    }
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
