import { parseChannelRetention, subjects } from "@herald/protocol";
import { createHandlerGuard, createLogger, Registry } from "@herald/service-kit";
import type { NatsConnection } from "@nats-io/transport-node";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AuthError, createVerifier } from "./auth.js";
import { ChannelSubscriptions } from "./channel-subscriptions.js";
import { type Delivery, LiveFeeds, parseChannelLive } from "./live-feeds.js";
import { Session } from "./session.js";

const logger = createLogger("test", "silent");
const RUNS = 10_000;

describe("client-facing handlers under generated input", () => {
  it("the token verifier refuses every generated token with an AuthError", async () => {
    const verify = createVerifier({ secret: "fuzz-secret-fuzz-secret-fuzz-secret-32" });
    const tokens = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.tuple(fc.base64String(), fc.base64String(), fc.base64String()).map((parts) => parts.join(".")),
      fc
        .jsonValue()
        .map(
          (v) =>
            `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${Buffer.from(JSON.stringify(v)).toString("base64url")}.`,
        ),
    );
    await fc.assert(
      fc.asyncProperty(tokens, async (token) => {
        await expect(verify(token, "connection")).rejects.toBeInstanceOf(AuthError);
      }),
      { numRuns: RUNS },
    );
    // 10,000 verifications take several seconds on a machine shared with other test runs.
  }, 30_000);

  it("acks of arbitrary ids never throw and report every id that was not delivered", () => {
    const session = new Session(
      {
        follow: () => {},
        unfollow: () => {},
        replay: async () => ({ messages: [], scannedTo: 0, done: true }),
        publishAcks: async () => {},
        maxInflight: 10,
        ackTimeoutMs: 1_000,
        replayPage: 10,
        logger,
      },
      "u",
      "d",
      { send: () => true },
    );
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 64 }), { maxLength: 20 }), (ids) => {
        expect(session.ack(ids)).toEqual(ids);
      }),
      { numRuns: RUNS },
    );
  });

  it("subscribe requests with arbitrary fields are answered with an error frame or accepted, never thrown", async () => {
    const nc = { subscribe: () => ({ unsubscribe: () => {} }) } as unknown as NatsConnection;
    const sent: string[] = [];
    const channels = new ChannelSubscriptions(
      {
        feeds: new LiveFeeds<Delivery>(nc, parseChannelLive, createHandlerGuard(logger, new Registry())),
        s: subjects("herald"),
        groups: parseChannelRetention("chat-*=10/1h"),
        replay: async () => ({ messages: [], scannedTo: 0, done: true, recovered: true }),
        verify: createVerifier({ secret: "fuzz-secret-fuzz-secret-fuzz-secret-32" }),
        maxSubscriptions: 5,
        pageSize: 10,
        logger,
      },
      () => ({
        userId: "u",
        deviceId: "d",
        channels: ["chat-*", "news"],
        expiresAt: Date.now() + 3_600_000,
        channel: undefined,
      }),
      {
        send: (frame) => {
          sent.push(frame.toString());
          return true;
        },
      },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          { channel: fc.string({ maxLength: 140 }), since: fc.nat(), token: fc.string({ maxLength: 80 }) },
          { requiredKeys: ["channel"] },
        ),
        async (request) => {
          const error = await channels.subscribe(request);
          if (error) expect(error.type).toBe("error");
          else expect(/^(chat-.*|news)$/.test(request.channel)).toBe(true);
          channels.unsubscribe(request.channel);
        },
      ),
      { numRuns: RUNS },
    );
    expect(channels.size).toBe(0);
  });
});
