import type { ReplayReply } from "@herald/protocol";
import { createLogger } from "@herald/service-kit";
import { describe, expect, it } from "vitest";
import { gapFrame, Session } from "./session.js";

describe("a replay that reports a gap", () => {
  it("sends the gap frame before the messages after it", async () => {
    const frames: { type: string; id?: string }[] = [];
    const pages: ReplayReply[] = [
      {
        messages: [{ id: "m12", seq: 12, prev: 11, data: 1, ts: 0 }],
        scannedTo: 12,
        done: true,
        gap: { after: 3, before: 10 },
      },
    ];
    const session = new Session(
      {
        follow: () => {},
        unfollow: () => {},
        replay: async (_user, _device, after) =>
          after === undefined ? pages.shift()! : { messages: [], scannedTo: after, done: true },
        publishAcks: async () => {},
        maxInflight: 10,
        ackTimeoutMs: 1_000,
        replayPage: 10,
        logger: createLogger("test", "silent"),
      },
      "u",
      "d",
      {
        send: (frame) => {
          frames.push(JSON.parse(frame.toString()) as { type: string; id?: string });
          return true;
        },
      },
    );
    session.start();
    const deadline = Date.now() + 5_000;
    while (frames.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    session.close();
    expect(frames).toEqual([
      { type: "gap", after: 3, before: 10, reason: "retention" },
      { type: "message", id: "m12", seq: 12, data: 1, ts: 0 },
    ]);
  });

  it("leaves `before` out when the mailbox held nothing past the gap", () => {
    expect(JSON.parse(gapFrame({ after: 3 }))).toEqual({ type: "gap", after: 3, reason: "retention" });
  });
});
