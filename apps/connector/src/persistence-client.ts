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

/** The replay APIs persistence serves: pages of a device's unacked messages and of a channel's history. */
export class PersistenceClient {
  constructor(
    private readonly nc: NatsConnection,
    private readonly s: Subjects,
  ) {}

  /** One page of the device's unacked messages after `after` (its cursor when undefined). */
  replay(userId: string, deviceId: string, after: number | undefined, limit: number): Promise<ReplayReply> {
    const request = { userId, deviceId, limit, ...(after === undefined ? {} : { after }) };
    return requestJson(this.nc, this.s.replay, request, replayReplySchema, { timeoutMs: REPLAY_TIMEOUT_MS });
  }

  /** One page of a channel's messages after offset `since` (its retained start when undefined). */
  channelReplay(channel: string, since: number | undefined, limit: number): Promise<ChannelReplayReply> {
    const request = { channel, limit, ...(since === undefined ? {} : { since }) };
    return requestJson(this.nc, this.s.channelReplay, request, channelReplayReplySchema, {
      timeoutMs: REPLAY_TIMEOUT_MS,
    });
  }
}
