import {
  type ChannelReplayReply,
  channelReplayReplySchema,
  type ReplayReply,
  replayReplySchema,
  type Subjects,
} from "@herald/protocol";
import { requestJson } from "@herald/service-kit";
import type { NatsConnection } from "@nats-io/transport-node";

/** How long a replay may take before the feed that asked retries it. */
const REPLAY_TIMEOUT_MS = 10_000;
/**
 * A page takes milliseconds; with no reply after this the request was most likely lost (its persistence
 * replica or NATS node died as it was sent) and is sent again, rather than stalling the feed for the full
 * timeout. A slow page still gets the rest of REPLAY_TIMEOUT_MS.
 */
const REPLAY_RETRY_AFTER_MS = 1_500;
const REPLAY_WAIT = { timeoutMs: REPLAY_TIMEOUT_MS, retryAfterMs: REPLAY_RETRY_AFTER_MS };

/** The replay APIs persistence serves: pages of a device's unacked messages and of a channel's history. */
export class PersistenceClient {
  constructor(
    private readonly nc: NatsConnection,
    private readonly s: Subjects,
  ) {}

  /** One page of the device's unacked messages after `after` (its cursor when undefined). */
  replay(userId: string, deviceId: string, after: number | undefined, limit: number): Promise<ReplayReply> {
    const request = { userId, deviceId, limit, ...(after === undefined ? {} : { after }) };
    return requestJson(this.nc, this.s.replay, request, replayReplySchema, REPLAY_WAIT);
  }

  /** One page of a channel's messages after offset `since` (its retained start when undefined). */
  channelReplay(channel: string, since: number | undefined, limit: number): Promise<ChannelReplayReply> {
    const request = { channel, limit, ...(since === undefined ? {} : { since }) };
    return requestJson(this.nc, this.s.channelReplay, request, channelReplayReplySchema, REPLAY_WAIT);
  }
}
