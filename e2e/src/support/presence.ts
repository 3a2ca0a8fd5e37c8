import {
  type PresenceBatchReply,
  type PresenceCountReply,
  type PresenceEvent,
  type PresenceReply,
  subjects,
} from "@herald/protocol";
import { waitUntil } from "@herald/testkit";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";

export type SeenEvent = PresenceEvent & { subject: string; receivedAt: number };

/**
 * A backend's view of presence: every event on `<p>.presence.event.>` (with its arrival time) and the query
 * APIs, for assertions in end-to-end tests.
 *
 * @example
 * const presence = watchPresence(backend.nc);
 * await presence.waitOnline("alice");
 * expect(presence.typesOf("alice")).toEqual(["online"]);
 */
export function watchPresence(nc: NatsConnection, prefix = "herald") {
  const s = subjects(prefix);
  const encoder = new TextEncoder();
  const events: SeenEvent[] = [];
  const sub: Subscription = nc.subscribe(s.presenceEventAll, {
    callback: (err, msg) => {
      if (err) return;
      events.push({ ...msg.json<PresenceEvent>(), subject: msg.subject, receivedAt: performance.now() });
    },
  });

  async function request<T>(subject: string, body: unknown, timeout = 2_000): Promise<T> {
    const payload = typeof body === "string" ? body : JSON.stringify(body);
    const reply = await nc.request(subject, encoder.encode(payload), { timeout });
    return reply.json<T>();
  }
  const get = (userId: string) => request<PresenceReply>(s.presenceGet, { userId });
  const getMany = (userIds: string[], timeout?: number) =>
    request<PresenceBatchReply>(s.presenceGet, { userIds }, timeout);
  const count = () => request<PresenceCountReply>(s.presenceCount, {});
  const typesOf = (userId: string) => events.filter((e) => e.userId === userId).map((e) => e.type);
  const waitEvents = (userId: string, types: PresenceEvent["type"][], timeoutMs = 10_000) =>
    waitUntil(() => typesOf(userId).length >= types.length, {
      timeoutMs,
      intervalMs: 20,
      message: () => `${userId}: events ${types.join(",")}; got ${typesOf(userId).join(",") || "none"}`,
    });
  /** Polls `get` until `userId` has `connections` connections. */
  const waitConnections = (userId: string, connections: number, timeoutMs = 10_000) => {
    let last: PresenceReply | undefined;
    return waitUntil(
      async () => {
        last = await get(userId);
        return last.connections.length === connections ? last : undefined;
      },
      {
        timeoutMs,
        intervalMs: 50,
        message: () => `${userId} with ${connections} connections; last: ${JSON.stringify(last)}`,
      },
    );
  };

  return {
    s,
    events,
    request,
    get,
    getMany,
    count,
    typesOf,
    waitEvents,
    waitConnections,
    stop: () => sub.unsubscribe(),
  };
}

export type PresenceWatch = ReturnType<typeof watchPresence>;
