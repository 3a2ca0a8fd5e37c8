/** What the share needs of a lane's lease. */
export type SharedLease = { held(): boolean; release(): Promise<void> };

/** What the share needs to know of the replicas. */
export type Replicas = { readonly ready: boolean; count(): number };

/**
 * Shares the intake's lanes among the live router replicas. A replica takes a free or expired lane only while
 * it holds fewer than its share, ⌈lanes ÷ replicas⌉; one that holds more than its share (another replica
 * joined) gives one up per round, after two rounds in a row over it, so the newcomer takes it. A replica that
 * dies stops counting when its leases expire, so the others' shares grow and they take its lanes.
 */
export class LaneShare {
  private leases: SharedLease[] = [];
  private overRounds = 0;
  private granted = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly replicas: Replicas,
    private readonly everyMs: number,
  ) {}

  /** The lanes' leases, most wanted first: the last held is the first given up. */
  set(leases: SharedLease[]): void {
    this.leases = leases;
  }

  /**
   * A lease's `mayAcquire`. Each yes is counted until the next round, so leases asking at the same moment
   * cannot together take more than the share.
   */
  readonly mayAcquire = (): boolean => {
    if (!this.replicas.ready || this.held() + this.granted >= this.share()) return false;
    this.granted++;
    return true;
  };

  share(): number {
    return Math.ceil(this.leases.length / Math.max(1, this.replicas.count()));
  }

  held(): number {
    return this.leases.filter((lease) => lease.held()).length;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.round(), this.everyMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One balancing round; resolves with the lease given up, if any. */
  async round(): Promise<SharedLease | undefined> {
    this.granted = 0;
    if (!this.replicas.ready || this.held() <= this.share()) {
      this.overRounds = 0;
      return undefined;
    }
    if (++this.overRounds < 2) return undefined;
    this.overRounds = 0;
    const extra = this.leases.findLast((lease) => lease.held());
    await extra?.release();
    return extra;
  }
}
