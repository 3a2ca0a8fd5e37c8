import {
  type ChannelReplayReply,
  channelReplayReplySchema,
  REPLAY_PACING,
  type ReplayReply,
  replayReplySchema,
  type Subjects,
} from "@herald/protocol";
import { requestJson, WakeableSleeps } from "@herald/service-kit";
import type { NatsConnection } from "@nats-io/transport-node";
import pLimit from "p-limit";

const REPLAY_WAIT = { timeoutMs: REPLAY_PACING.timeoutMs, retryAfterMs: REPLAY_PACING.retryAfterMs };

/**
 * The replay APIs persistence serves: pages of a device's unacked messages and of a channel's history. At most
 * `REPLAY_PACING.inFlight` requests are out at once; the rest wait here, and their timeouts start when sent.
 */
export class PersistenceClient {
  private readonly inFlight = pLimit(REPLAY_PACING.inFlight);
  /** The replay feeds' retry waits: a reply after a failure ends them all (persistence answers again). */
  readonly retries = new WakeableSleeps();
  private failing = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly s: Subjects,
  ) {}

  /** Requests waiting for a free slot (a reconnect storm's backlog at this connector). */
  get waiting(): number {
    return this.inFlight.pendingCount;
  }

  /** One page of the device's unacked messages after `after` (its cursor when undefined). */
  replay(userId: string, deviceId: string, after: number | undefined, limit: number): Promise<ReplayReply> {
    const request = { userId, deviceId, limit, ...(after === undefined ? {} : { after }) };
    return this.watched(
      this.inFlight(() => requestJson(this.nc, this.s.replay, request, replayReplySchema, REPLAY_WAIT)),
    );
  }

  /** One page of a channel's messages after offset `since` (its retained start when undefined). */
  channelReplay(channel: string, since: number | undefined, limit: number): Promise<ChannelReplayReply> {
    const request = { channel, limit, ...(since === undefined ? {} : { since }) };
    return this.watched(
      this.inFlight(() =>
        requestJson(this.nc, this.s.channelReplay, request, channelReplayReplySchema, REPLAY_WAIT),
      ),
    );
  }

  /** Notes failures; the first reply after one wakes the feeds waiting to retry. */
  private async watched<T>(reply: Promise<T>): Promise<T> {
    try {
      const value = await reply;
      if (this.failing) {
        this.failing = false;
        this.retries.wakeAll();
      }
      return value;
    } catch (err) {
      this.failing = true;
      throw err;
    }
  }
}
