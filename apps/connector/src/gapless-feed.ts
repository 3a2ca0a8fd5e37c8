import { type Backoff, type Logger, sleepBackoff, type WakeableSleeps } from "@herald/service-kit";

/** One stored message of a stream subject: its sequence and the subject's previous sequence. */
export type Positioned = { seq: number; prev: number };

export type Page<T extends Positioned> = { items: T[]; scannedTo: number; done: boolean };

export type GaplessFeedOptions<T extends Positioned> = {
  /** One page after `after` (the subject's start position when undefined). */
  replay: (after: number | undefined, limit: number) => Promise<Page<T>>;
  /** Takes one message in order. */
  deliver: (item: T) => void;
  /** How many more messages may be delivered now; at 0 the feed pauses until `resume()`. */
  room: () => number;
  pageSize: number;
  logger: Logger;
  /** Where a failed replay waits before its retry, so one sign that replays work again ends every wait. */
  retries?: WakeableSleeps | undefined;
  /** Called with the first page (e.g. to answer `subscribed`). */
  onFirstPage?: (page: Page<T>) => void;
};

/**
 * Live messages held while a catch-up runs; past this the catch-up simply replays them (one more page). At
 * 10,000 a connector that fell behind (replays slow) held ~300 kB per connection in these buffers in the soak
 * (bench/README.md); a bound this small costs a page now and then instead.
 */
export const MAX_BUFFERED_LIVE = 64;
const REPLAY_BACKOFF: Backoff = { initialMs: 250, maxMs: 5_000 };

/**
 * Delivers one stream subject in order, with no gap and no duplicate, by merging replay pages with live
 * messages. `position` is the highest sequence handled in order; a live message is next when its `prev` is at
 * or below it, a duplicate when its own `seq` is, and otherwise reveals a gap, which a replay fills.
 */
export class GaplessFeed<T extends Positioned> {
  position: number | undefined;
  private mode: "catchup" | "live" = "catchup";
  private paused = false;
  private closed = false;
  /** Live messages held during a catch-up; none (no array) the rest of the time, as on an idle connection. */
  private buffer: T[] | undefined;
  private overflowed = false;
  private catching: Promise<void> | undefined;
  private firstPage = true;

  constructor(private readonly options: GaplessFeedOptions<T>) {}

  /** Starts with a catch-up from `after` (undefined: from the subject's default start). */
  start(after?: number): void {
    this.position = after;
    this.catchUp();
  }

  close(): void {
    this.closed = true;
    this.buffer = undefined;
  }

  /** Takes a live message. */
  push(item: T): void {
    if (this.closed || this.paused) return;
    if (this.mode === "catchup") {
      if (this.overflowed) return;
      if (!this.buffer) this.buffer = [item];
      else if (this.buffer.length < MAX_BUFFERED_LIVE) this.buffer.push(item);
      else {
        this.buffer = undefined;
        this.overflowed = true;
      }
      return;
    }
    const position = this.position ?? 0;
    if (item.seq <= position) return;
    if (item.prev <= position && this.options.room() > 0) {
      this.take(item);
      return;
    }
    if (item.prev <= position) {
      this.pause();
      return;
    }
    this.mode = "catchup";
    this.buffer = [item];
    this.catchUp();
  }

  /** Catches up from the current position, for when live messages may have been missed unnoticed. */
  resync(): void {
    if (this.closed || this.paused) return;
    this.mode = "catchup";
    this.catchUp();
  }

  /** Continues after a pause, once `room()` is positive again. */
  resume(): void {
    if (!this.paused || this.closed) return;
    this.paused = false;
    this.mode = "catchup";
    this.catchUp();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  private take(item: T): void {
    this.position = Math.max(this.position ?? 0, item.seq);
    this.options.deliver(item);
  }

  private catchUp(): void {
    if (this.catching || this.closed) return;
    this.catching = this.run().finally(() => {
      this.catching = undefined;
    });
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      try {
        if (await this.replayToEnd()) return;
        if (this.mergeBuffer()) return;
        failures = 0;
      } catch (err) {
        failures++;
        this.options.logger.warn({ err }, "replay failed; retrying");
        await (this.options.retries?.sleep(failures, REPLAY_BACKOFF) ??
          sleepBackoff(failures, REPLAY_BACKOFF));
      }
    }
  }

  /** Pages until the end of the subject; true when it stopped because there is no room. */
  private async replayToEnd(): Promise<boolean> {
    for (;;) {
      const room = this.options.room();
      if (room <= 0) return this.pause();
      const page = await this.options.replay(this.position, Math.min(this.options.pageSize, room));
      if (this.closed) return true;
      if (this.firstPage) {
        this.firstPage = false;
        this.options.onFirstPage?.(page);
      }
      for (const item of page.items) {
        if (this.position !== undefined && item.seq <= this.position) continue;
        this.take(item);
        if (this.options.room() <= 0) {
          // The rest of this page comes again on resume.
          return this.pause();
        }
      }
      this.position = Math.max(this.position ?? 0, page.scannedTo);
      if (page.done) return false;
    }
  }

  /** Moves buffered live messages out in order; true when the feed is live (or paused) afterwards. */
  private mergeBuffer(): boolean {
    const buffered = this.buffer?.sort((a, b) => a.seq - b.seq) ?? [];
    this.buffer = undefined;
    if (this.overflowed) {
      this.overflowed = false;
      return false;
    }
    for (const item of buffered) {
      const position = this.position ?? 0;
      if (item.seq <= position) continue;
      if (item.prev > position) return false;
      if (this.options.room() <= 0) return this.pause();
      this.take(item);
    }
    this.mode = "live";
    return true;
  }

  private pause(): true {
    this.paused = true;
    this.mode = "catchup";
    this.buffer = undefined;
    this.overflowed = false;
    return true;
  }
}
