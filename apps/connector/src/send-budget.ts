/** One authenticated socket as the send budget sees it. */
export interface BufferedSocket {
  readonly userId: string;
  /** Bytes waiting in its send buffer now. */
  bufferedBytes(): number;
  /** Closes it as a slow consumer (4008). */
  dropAsSlow(): void;
}

export type SendBudgetLimits = {
  /** Bytes buffered across one user's sockets. */
  perUser: number;
  /** Bytes buffered across every socket of this connector. */
  total: number;
};

/** A user's bytes and socket count; its sockets are looked up only when its budget is exceeded (rarely). */
type UserShare = { bytes: number; sockets: number };

/**
 * Bytes waiting in send buffers, per user and across the connector, so many slow sockets cannot together hold
 * what one may not. A socket's figure is refreshed whenever something is sent to it; buffers only drain in
 * between, so the totals are upper bounds, and exact figures are read before anyone is dropped. Past a budget
 * the sockets with the most buffered are closed (4008) until it holds again.
 *
 * @example
 * budget.add(socket); socket.send(frame); budget.update(socket);
 */
export class SendBudget {
  private total = 0;
  private readonly counted = new Map<BufferedSocket, number>();
  private readonly users = new Map<string, UserShare>();

  constructor(private readonly limits: SendBudgetLimits) {}

  get bufferedBytes(): number {
    return this.total;
  }

  add(socket: BufferedSocket): void {
    if (this.counted.has(socket)) return;
    this.counted.set(socket, 0);
    let share = this.users.get(socket.userId);
    if (!share) {
      share = { bytes: 0, sockets: 0 };
      this.users.set(socket.userId, share);
    }
    share.sockets++;
    this.record(socket);
  }

  remove(socket: BufferedSocket): void {
    const bytes = this.counted.get(socket);
    if (bytes === undefined) return;
    this.counted.delete(socket);
    this.total -= bytes;
    const share = this.users.get(socket.userId);
    if (!share) return;
    share.bytes -= bytes;
    if (--share.sockets === 0) this.users.delete(socket.userId);
  }

  /** After a send to `socket`: records its buffer, and drops the fullest sockets while a budget is exceeded. */
  update(socket: BufferedSocket): void {
    const before = this.counted.get(socket);
    // Most sends go straight to the kernel (0 buffered before and after): then no total moved, and none can
    // be over a budget that the last change to them was checked against. This runs for every frame sent.
    if (before === undefined || socket.bufferedBytes() === before) return;
    this.record(socket);
    const share = this.users.get(socket.userId);
    if (share && share.bytes > this.limits.perUser) {
      const userId = socket.userId;
      const sockets = [...this.counted.keys()].filter((s) => s.userId === userId);
      this.enforce(sockets, () => share.bytes, this.limits.perUser);
    }
    if (this.total > this.limits.total) {
      this.enforce([...this.counted.keys()], () => this.total, this.limits.total);
    }
  }

  private record(socket: BufferedSocket): void {
    const before = this.counted.get(socket);
    if (before === undefined) return;
    const now = socket.bufferedBytes();
    this.counted.set(socket, now);
    this.total += now - before;
    const share = this.users.get(socket.userId);
    if (share) share.bytes += now - before;
  }

  private enforce(sockets: BufferedSocket[], bytes: () => number, limit: number): void {
    for (const socket of sockets) this.record(socket);
    if (bytes() <= limit) return;
    sockets.sort((a, b) => (this.counted.get(b) ?? 0) - (this.counted.get(a) ?? 0));
    for (const socket of sockets) {
      if (bytes() <= limit) return;
      this.remove(socket);
      socket.dropAsSlow();
    }
  }
}
