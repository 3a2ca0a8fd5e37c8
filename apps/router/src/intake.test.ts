import { DeadReason, parseChannelRetention, subjects, userToken } from "@herald/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Decision, decide, headerSafe, quote } from "./intake.js";

const s = subjects("herald");
const MAX = 64 * 1024;
const enc = (value: unknown) =>
  new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));
const groups = parseChannelRetention("chat-*=1000/24h");
const run = (subject: string, body: unknown, msgId?: string): Decision =>
  decide(s, { subject, payload: enc(body), msgId }, MAX, groups);
const deadReason = (d: Decision) => (d.kind === "dead" ? d.reason : "routed");

describe("decide", () => {
  it("routes a user message to the token in its subject", () => {
    expect(run(s.sendUser("alice"), { data: { hello: 1 }, id: "m1" })).toEqual({
      kind: "route",
      target: "user",
      id: "m1",
      tokens: ["alice"],
      destinations: [{ subject: "herald.mbox.alice", key: "alice" }],
      data: { hello: 1 },
    });
  });

  it("routes a channel message to its retention group's stream subject", () => {
    expect(run(s.sendChannel("chat-7"), { data: 1, id: "c1" })).toMatchObject({
      kind: "route",
      target: "channel",
      destinations: [{ subject: "herald.chan.chat-.chat-7", key: "c/chat-7" }],
    });
    expect(run(s.sendChannel("news"), { data: 1 })).toMatchObject({
      destinations: [{ subject: "herald.chan.default.news", key: "c/news" }],
    });
  });

  it("routes a broadcast to the broadcast group", () => {
    expect(run(s.sendBroadcast, { data: 1 })).toMatchObject({
      kind: "route",
      target: "broadcast",
      destinations: [{ subject: "herald.chan.bcast.all", key: "b" }],
    });
  });

  it("routes encoded tokens and accepts null or falsy data", () => {
    const token = userToken("bob@example");
    expect(run(s.sendUser(token), { data: null })).toMatchObject({
      kind: "route",
      tokens: [token],
      data: null,
    });
    expect(run(s.sendUser("a"), { data: 0 })).toMatchObject({ kind: "route", data: 0 });
  });

  it("takes the id from the body first, then from Nats-Msg-Id, else leaves it to the caller", () => {
    expect(run(s.sendUser("a"), { data: 1, id: "body" }, "header")).toMatchObject({ id: "body" });
    expect(run(s.sendUser("a"), { data: 1 }, "header")).toMatchObject({ id: "header" });
    expect(run(s.sendUser("a"), { data: 1 })).toMatchObject({ id: undefined });
  });

  it("rejects a Nats-Msg-Id that cannot be a message id", () => {
    const d = run(s.sendUser("a"), { data: 1 }, "has space");
    expect(d).toMatchObject({ kind: "dead", reason: DeadReason.InvalidMessage });
  });

  it("fans send.users out to each distinct user once", () => {
    const d = run(s.sendUsers, { userIds: ["a", "b", "a", "bob@example", "b"], data: "x" });
    expect(d).toMatchObject({ kind: "route", target: "users", tokens: ["a", "b", userToken("bob@example")] });
  });

  it.each([
    ["too large", s.sendUser("a"), { data: "x".repeat(MAX) }, DeadReason.TooLarge],
    ["not JSON", s.sendUser("a"), "{nope", DeadReason.InvalidJson],
    ["an array", s.sendUser("a"), [1, 2], DeadReason.InvalidMessage],
    ["a string", s.sendUser("a"), '"hi"', DeadReason.InvalidMessage],
    ["null", s.sendUser("a"), "null", DeadReason.InvalidMessage],
    ["no data", s.sendUser("a"), { id: "x" }, DeadReason.MissingData],
    ["a numeric id", s.sendUser("a"), { data: 1, id: 5 }, DeadReason.InvalidMessage],
    ["an id with spaces", s.sendUser("a"), { data: 1, id: "a b" }, DeadReason.InvalidMessage],
    ["no userIds", s.sendUsers, { data: 1 }, DeadReason.InvalidMessage],
    ["empty userIds", s.sendUsers, { data: 1, userIds: [] }, DeadReason.InvalidMessage],
    ["userIds not a list", s.sendUsers, { data: 1, userIds: "a" }, DeadReason.InvalidMessage],
    ["a dotted user id", s.sendUsers, { data: 1, userIds: ["a", "b.c"] }, DeadReason.InvalidUserId],
    ["a * user id", s.sendUsers, { data: 1, userIds: ["*"] }, DeadReason.InvalidUserId],
    ["a > user id", s.sendUsers, { data: 1, userIds: [">"] }, DeadReason.InvalidUserId],
    ["a user id with a space", s.sendUsers, { data: 1, userIds: ["a b"] }, DeadReason.InvalidUserId],
    ["an empty user id", s.sendUsers, { data: 1, userIds: [""] }, DeadReason.InvalidUserId],
    ["a numeric user id", s.sendUsers, { data: 1, userIds: [7] }, DeadReason.InvalidUserId],
    ["a too long user id", s.sendUsers, { data: 1, userIds: ["x".repeat(129)] }, DeadReason.InvalidUserId],
    [
      "a non-canonical token",
      s.sendUser(`=${Buffer.from("alice").toString("base64url")}`),
      { data: 1 },
      "iu",
    ],
    ["an empty encoded token", s.sendUser("="), { data: 1 }, DeadReason.InvalidUserId],
    ["a padded token", s.sendUser("=Ym9i="), { data: 1 }, DeadReason.InvalidUserId],
    ["a token encoding a dot", s.sendUser(`=${Buffer.from("a.b").toString("base64url")}`), { data: 1 }, "iu"],
    ["two tokens", `${s.sendUserPrefix}a.b`, { data: 1 }, DeadReason.InvalidUserId],
    ["no token", "herald.send.user", { data: 1 }, DeadReason.UnknownSubject],
    ["an unknown kind", "herald.send.everyone", { data: 1 }, DeadReason.UnknownSubject],
    ["users with a tail", "herald.send.users.x", { data: 1 }, DeadReason.UnknownSubject],
    ["a channel with a bad character", s.sendChannel("new$"), { data: 1 }, DeadReason.InvalidChannel],
    ["a dotted channel", "herald.send.channel.a.b", { data: 1 }, DeadReason.InvalidChannel],
    ["a broadcast with a tail", "herald.send.broadcast.x", { data: 1 }, DeadReason.UnknownSubject],
  ])("rejects %s", (_name, subject, body, reason) => {
    const expected = reason === "iu" ? DeadReason.InvalidUserId : reason;
    expect(deadReason(run(subject, body))).toBe(expected);
  });

  it("rejects bytes that are not UTF-8 as invalid JSON", () => {
    const d = decide(
      s,
      { subject: s.sendUser("a"), payload: Uint8Array.of(0x7b, 0xff, 0x7d), msgId: undefined },
      MAX,
    );
    expect(deadReason(d)).toBe(DeadReason.InvalidJson);
  });

  it("checks the size before parsing", () => {
    const d = decide(s, { subject: s.sendUser("a"), payload: new Uint8Array(11), msgId: undefined }, 10);
    expect(d).toEqual({
      kind: "dead",
      reason: DeadReason.TooLarge,
      message: "payload is 11 bytes, the limit is 10",
    });
  });

  it("names the bad user id and its position in the reason", () => {
    const d = run(s.sendUsers, { data: 1, userIds: ["ok", "b\nc"] });
    expect(d.kind === "dead" && d.message).toMatch(/^userIds\[1\] "b\\nc": user id must not contain/);
  });

  it("routes every legal user id through its token, and nothing else", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40, unit: "grapheme" }), (userId) => {
        let token: string;
        try {
          token = userToken(userId);
        } catch {
          return deadReason(run(s.sendUsers, { data: 1, userIds: [userId] })) === DeadReason.InvalidUserId;
        }
        const viaSubject = run(s.sendUser(token), { data: 1 });
        const viaList = run(s.sendUsers, { data: 1, userIds: [userId] });
        return (
          viaSubject.kind === "route" &&
          viaSubject.tokens[0] === token &&
          viaList.kind === "route" &&
          viaList.tokens[0] === token
        );
      }),
    );
  });
});

describe("quote", () => {
  it("keeps reasons ASCII, escaped and short enough for a header", () => {
    expect(quote("a\r\nb")).toBe('"a\\r\\nb"');
    expect(quote("é")).toBe('"\\u00e9"');
    expect(quote("x".repeat(200)).length).toBeLessThan(100);
    expect(quote(42)).toBe('"42"');
  });
});

describe("headerSafe", () => {
  it("escapes what a header cannot hold, such as a parser message quoting the payload", () => {
    const d = run(s.sendUser("a"), '{"data":\n\u00e9\r\n oops');
    expect(d.kind).toBe("dead");
    const text = headerSafe(d.kind === "dead" ? d.message : "");
    expect(text).toMatch(/^[\x20-\x7e]+$/);
    expect(text).toContain("\\u000a");
    expect(headerSafe("x".repeat(2_000))).toHaveLength(512);
  });
});
