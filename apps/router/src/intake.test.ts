import { DeadReason, MAX_JSON_DEPTH, parseChannelRetention, subjects, userToken } from "@herald/protocol";
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

  it("routes what a partitioned intake stored as the subject it was published to", () => {
    const keyed = run("herald.route.5.users.tenant-1", { userIds: ["a", "b"], data: 1 });
    expect(keyed).toMatchObject({ kind: "route", target: "users", tokens: ["a", "b"] });
    expect(run(s.sendUsersKeyed("k"), { userIds: ["a"], data: 1 })).toMatchObject({ target: "users" });
    const channel = run("herald.route.0.channel.news", { data: 1 });
    expect(channel).toMatchObject({ kind: "route", target: "channel" });
    expect(deadReason(run("herald.route.0.channel.new$", { data: 1 }))).toBe(DeadReason.InvalidChannel);
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
    ["users with two tails", "herald.send.users.x.y", { data: 1 }, DeadReason.UnknownSubject],
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

/** `depth` levels of arrays around 0, e.g. 2 → `[[0]]`. */
const nested = (depth: number) => `${"[".repeat(depth)}0${"]".repeat(depth)}`;

describe("decide under generated input", () => {
  const anySubject = fc.oneof(
    fc.constantFrom(
      s.sendUser("a"),
      s.sendUsers,
      s.sendChannel("chat-1"),
      s.sendBroadcast,
      s.sendUser("=Zm9v"),
    ),
    fc.string({ maxLength: 60 }).map((tail) => `herald.send.${tail}`),
  );
  const anyPayload = fc.oneof(
    fc.uint8Array({ maxLength: 512 }),
    fc.jsonValue({ maxDepth: 5 }).map((v) => enc(v)),
    fc.jsonValue({ maxDepth: 5 }).map((data) => enc({ data, userIds: ["a", "b"] })),
    fc.integer({ min: 1, max: 30_000 }).map((n) => enc(`{"data":${nested(n)}}`)),
    fc.integer({ min: 1, max: 2_000 }).map((n) => enc(`${'{"data":'.repeat(n)}1${"}".repeat(n)}`)),
    fc
      .string({ maxLength: 100 })
      .map((key) => enc(`{"${key}":1,"__proto__":{"data":1},"data":{"__proto__":[1]}}`)),
  );

  it("never throws, and whatever it routes can be serialised for the mailbox", () => {
    fc.assert(
      fc.property(
        anySubject,
        anyPayload,
        fc.option(fc.string({ maxLength: 300 })),
        (subject, payload, msgId) => {
          const d = decide(s, { subject, payload, msgId: msgId ?? undefined }, MAX, groups);
          if (d.kind === "route")
            expect(() => JSON.stringify({ id: "x", data: d.data, ts: 1 })).not.toThrow();
          else expect(d.message.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 5_000 },
    );
  });

  it(`routes data nested to ${MAX_JSON_DEPTH} levels (the body counts) and dead-letters deeper as too_deep`, () => {
    expect(run(s.sendUser("a"), `{"data":${nested(MAX_JSON_DEPTH - 1)}}`).kind).toBe("route");
    expect(deadReason(run(s.sendUser("a"), `{"data":${nested(MAX_JSON_DEPTH)}}`))).toBe(DeadReason.TooDeep);
    const deep = run(s.sendUser("a"), `{"data":${nested(20_000)}}`);
    expect(deep).toMatchObject({ kind: "dead", reason: DeadReason.TooDeep });
    // Brackets inside strings are text, not nesting.
    expect(run(s.sendUser("a"), { data: "[{".repeat(10_000) }).kind).toBe("route");
  });

  it("keeps __proto__ keys as plain data", () => {
    const d = run(s.sendUser("a"), '{"data":{"__proto__":{"polluted":true}},"__proto__":{"id":"x y"}}');
    expect(d.kind).toBe("route");
    expect(JSON.stringify(d.kind === "route" && d.data)).toBe('{"__proto__":{"polluted":true}}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
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
