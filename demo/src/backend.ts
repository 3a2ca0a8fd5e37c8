import {
  channelProblem,
  isValidUserId,
  type PresenceBatchReply,
  type SendBody,
  subjects,
  userIdProblem,
  userToken,
} from "@herald/protocol";
import { jetstream } from "@nats-io/jetstream";
import { type ConnectionOptions, connect, type NatsConnection } from "@nats-io/transport-node";
import { DemoRequestError } from "./tokens.js";

/** What the page may ask of Herald's backend side: publish to a user or channel, look up presence. */
export type DemoBackend = {
  publishToUser: (userId: string, data: unknown) => Promise<{ seq: number }>;
  publishToChannel: (channel: string, data: unknown) => Promise<{ seq: number }>;
  presence: (userIds: string[]) => Promise<PresenceBatchReply>;
  close: () => Promise<void>;
};

const MAX_PRESENCE_USERS = 20;

/**
 * Connects as a backend would: the publisher identity (its `inboxPrefix` included) from `options`, JetStream
 * publishes to `send.*` and requests to the presence API (contract sections 2 and 4).
 */
export async function connectBackend(options: ConnectionOptions, prefix?: string): Promise<DemoBackend> {
  const nc: NatsConnection = await connect({ ...options, name: "herald-demo", maxReconnectAttempts: -1 });
  const js = jetstream(nc);
  const s = subjects(prefix);
  const publish = async (subject: string, data: unknown) => {
    if (data === undefined) throw new DemoRequestError("data is required");
    // It came from a JSON body, so it is JSON.
    const body: SendBody = { data: data as SendBody["data"] };
    const ack = await js.publish(subject, JSON.stringify(body));
    return { seq: ack.seq };
  };
  return {
    publishToUser: (userId, data) => {
      const problem = userIdProblem(userId);
      if (problem) return Promise.reject(new DemoRequestError(problem));
      return publish(s.sendUser(userToken(userId)), data);
    },
    publishToChannel: (channel, data) => {
      const problem = channelProblem(channel);
      if (problem) return Promise.reject(new DemoRequestError(problem));
      return publish(s.sendChannel(channel), data);
    },
    presence: async (userIds) => {
      if (userIds.length === 0 || userIds.length > MAX_PRESENCE_USERS || !userIds.every(isValidUserId)) {
        throw new DemoRequestError(`userIds must be 1 to ${MAX_PRESENCE_USERS} valid user ids`);
      }
      const reply = await nc.request(s.presenceGet, JSON.stringify({ userIds }), { timeout: 3_000 });
      return reply.json<PresenceBatchReply>();
    },
    close: () => nc.drain(),
  };
}
