import { HeraldClient } from "@herald/client";
import { signToken, waitUntil } from "@herald/testkit";
import WebSocket from "ws";
import type { Backend } from "./backend.js";
import { longestGap } from "./pauses.js";

/** Counts every `message` frame a socket receives, duplicates included, before the SDK filters them. */
function countingWebSocket(onFrame: () => void) {
  return class CountingWebSocket extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      this.on("message", (data) => {
        if (data.toString().startsWith('{"type":"message"')) onFrame();
      });
    }
  };
}

export type Fleet = {
  /** Ids each user's application handler saw, in order. */
  handled: Map<string, string[]>;
  /** The mailbox sequence of each of those, in the same order (says where an order problem arose). */
  handledSeqs: Map<string, number[]>;
  /** Message frames received in all, duplicates included. */
  frames: () => number;
  /** Handler calls that repeated an id already handled for that user (must stay 0). */
  repeats: () => number;
  /**
   * The longest wait between two new messages of one user since `since` (ms since epoch), with its user: how
   * long a failure paused someone's deliveries while messages kept coming.
   */
  longestPause: (since: number) => { ms: number; user: string };
  /**
   * Publishes `perUser` messages to every user, retrying unacknowledged publishes for `retryForMs`; `via`
   * `users` sends each through `send.users` (the router's path) instead of `send.user.<token>`.
   */
  publishAll: (perUser: number, retryForMs?: number, via?: "user" | "users") => Promise<void>;
  /** Waits until every user's handler saw `perUser` distinct messages. */
  waitAllHandled: (perUser: number, timeoutMs: number) => Promise<void>;
  close: () => Promise<void>;
};

/**
 * `users` SDK clients (auto-ack after the handler), each for its own user, that reconnect through crashes,
 * plus a publisher for them: the load of the crash tests.
 */
export async function startFleet(options: {
  url: () => string;
  secret: string;
  users: number;
  backend: Backend;
  prefix?: string;
}): Promise<Fleet> {
  const handled = new Map<string, string[]>();
  const handledSeqs = new Map<string, number[]>();
  const handledAt = new Map<string, number[]>();
  let frames = 0;
  let repeats = 0;
  const Counting = countingWebSocket(() => frames++);
  const userIds = Array.from({ length: options.users }, (_, i) => `${options.prefix ?? "u"}${i}`);
  const clients = await Promise.all(
    userIds.map(async (userId) => {
      handled.set(userId, []);
      handledSeqs.set(userId, []);
      handledAt.set(userId, []);
      const seen = new Set<string>();
      const client = new HeraldClient({
        url: options.url(),
        token: () => signToken({ sub: userId }, options.secret),
        WebSocket: Counting as never,
        // Frames are counted on the WebSocket; a long outage would move some clients to SSE (covered by
        // sse.test.ts) and out of the count.
        transport: "websocket",
        reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 },
      });
      client.on("message", (message) => {
        if (seen.has(message.id)) repeats++;
        else handledAt.get(userId)!.push(Date.now());
        seen.add(message.id);
        handled.get(userId)!.push(message.id);
        handledSeqs.get(userId)!.push(message.seq);
      });
      client.on("error", () => {});
      await client.connect();
      return client;
    }),
  );

  return {
    handled,
    handledSeqs,
    frames: () => frames,
    repeats: () => repeats,
    longestPause: (since) => {
      const { ms, key } = longestGap(handledAt, since);
      return { ms, user: key };
    },
    publishAll: (perUser, retryForMs = 0, via = "user") =>
      options.backend.pipeline(
        perUser * userIds.length,
        (i) => {
          const user = userIds[i % userIds.length]!;
          const n = Math.floor(i / userIds.length);
          const body = { data: { n }, id: `${user}-${n}` };
          return via === "users"
            ? { subject: options.backend.s.sendUsers, body: { ...body, userIds: [user] } }
            : { subject: options.backend.s.sendUser(user), body };
        },
        64,
        retryForMs,
      ),
    waitAllHandled: async (perUser, timeoutMs) => {
      await waitUntil(() => userIds.every((u) => new Set(handled.get(u)).size >= perUser), {
        timeoutMs,
        intervalMs: 100,
        message: () => {
          const short = userIds.filter((u) => new Set(handled.get(u)).size < perUser);
          const missing = short.reduce((sum, u) => sum + perUser - new Set(handled.get(u)).size, 0);
          return `all messages handled; ${short.length} users short by ${missing} messages`;
        },
      });
    },
    close: async () => {
      await Promise.all(clients.map((c) => c.close()));
    },
  };
}

/** Every user got every one of its ids exactly once, in publish order. */
export function expectedIds(user: string, perUser: number): string[] {
  return Array.from({ length: perUser }, (_, n) => `${user}-${n}`);
}
