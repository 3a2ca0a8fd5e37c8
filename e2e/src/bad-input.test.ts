import { CloseCode } from "@herald/protocol";
import {
  connectClient,
  forgeAlgNoneToken,
  openClient,
  signExpiredToken,
  signToken,
  signWithWrongKey,
  tamperedToken,
  waitUntil,
} from "@herald/testkit";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { useStack } from "./support/use-stack.js";

const world = useStack({
  envFor: { connector: { HERALD_HANDSHAKE_TIMEOUT: "1s", HERALD_MAX_BUFFERED_BYTES: "65536" } },
});

const token = (sub: string) => signToken({ sub }, world.stack.jwtSecret);

describe("publishes that are not valid", () => {
  it("dead-letters each with its reason and original payload, and delivers none", async () => {
    const watcher = await connectClient(world.stack.wsUrl(await token("victim")), { autoAck: true });
    const tenMiB = new Uint8Array(10 * 1024 * 1024).fill(0x61);
    const toVictim = world.backend.s.sendUser("victim");
    // Single-user sends are stored as sent and checked when read (the watcher's replay dead-letters them);
    // the rest are checked by the router.
    const cases: { subject: string; payload: string | Uint8Array; reason: string }[] = [
      { subject: toVictim, payload: "{not json", reason: "invalid_json" },
      { subject: toVictim, payload: JSON.stringify({ id: "no-data" }), reason: "missing_data" },
      { subject: world.backend.s.sendUsers, payload: tenMiB, reason: "too_large" },
      ...["victim.x", "*", ">", "vic tim", ""].map((userId) => ({
        subject: world.backend.s.sendUsers,
        payload: JSON.stringify({ userIds: ["victim", userId], data: "never" }),
        reason: "invalid_user_id",
      })),
      { subject: `${toVictim}.x`, payload: JSON.stringify({ data: "never" }), reason: "invalid_user_id" },
    ];
    for (const c of cases) {
      const ack = await world.backend.publish(c.subject, c.payload);
      expect(ack.seq).toBeGreaterThan(0);
    }
    // Over the size limit to one user: refused at publish (max_msg_size), so the backend knows at once.
    await expect(world.backend.publish(toVictim, tenMiB)).rejects.toThrow();
    // Something valid after them, so the watcher reads past the invalid ones.
    await world.backend.toUser("victim", { data: "valid", id: "valid-1" });
    await watcher.waitFor((f) => f.type === "message" && f.id === "valid-1");
    const letters = await waitUntil(
      async () => {
        const all = await world.operator.deadLetters();
        return all.length >= cases.length ? all : undefined;
      },
      { timeoutMs: 20_000, message: "dead letters" },
    );
    const key = (reason: string, data: string | Uint8Array) =>
      `${reason} ${Buffer.from(data).toString("latin1").slice(0, 200)}`;
    expect(letters.map((l) => key(l.reason, l.data)).sort()).toEqual(
      cases.map((c) => key(c.reason, c.payload)).sort(),
    );
    for (const letter of letters) expect(letter.header, `reason text for ${letter.reason}`).toMatch(/\w+/);
    expect(letters.find((l) => l.header?.includes("victim.x"))).toBeDefined();
    expect(letters.find((l) => l.reason === "invalid_json")?.originalSubject).toBe(toVictim);
    // Nothing invalid reached the user; the two invalid entries stay stored, skipped.
    expect(watcher.messages().map((m) => m.id)).toEqual(["valid-1"]);
    expect(await world.operator.mailboxCount("victim")).toBe(3);
    await watcher.close();
  });

  it("stores a publish to a token that is not canonical under a mailbox no user reads (use userToken)", async () => {
    // `=dmljdGlt` decodes to "victim" but is not how userToken("victim") spells it: no device ever reads it.
    const ack = await world.backend.publish(world.backend.s.sendUser("=dmljdGlt"), { data: "lost" });
    expect(ack.stream).toBe(world.backend.s.streams.mailbox);
    const info = await (await world.operator.jsm()).streams.info(world.backend.s.streams.mailbox, {
      subjects_filter: world.backend.s.mailbox("=dmljdGlt"),
    });
    expect(info.state.subjects?.[world.backend.s.mailbox("=dmljdGlt")]).toBe(1);
  });
});

describe("frames that are not valid", () => {
  it("answers malformed frames, unknown types and unknown acks with an error frame and stays usable", async () => {
    const client = await connectClient(world.stack.wsUrl(await token("frames")));
    const bad = [
      ["this is not json", "invalid_json"],
      ["[1,2,3]", "invalid_frame"],
      ['{"no":"type"}', "invalid_frame"],
      ['{"type":"teleport"}', "unknown_frame_type"],
      ['{"type":"ack","ids":"x"}', "invalid_frame"],
      ['{"type":"ack","ids":["never-sent"]}', "unknown_id"],
    ] as const;
    for (const [frame, code] of bad) {
      const before = client.frames.length;
      client.send(frame);
      const error = await client.waitFor((f) => f.type === "error" && client.frames.indexOf(f) >= before);
      expect(error).toMatchObject({ type: "error", code });
    }
    client.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    await client.waitFor((f) => f.type === "error" && f.message.includes("binary"));
    await world.backend.toUser("frames", { data: "still here", id: "f-1" });
    expect((await client.waitForMessages(1))[0]!.id).toBe("f-1");
    client.ack(["f-1"]);
    expect(client.closeInfo()).toBeUndefined();
    await client.close();
  });

  it("closes with 1009 a frame larger than the limit, without affecting other connections", async () => {
    const other = await connectClient(world.stack.wsUrl(await token("bystander")), { autoAck: true });
    const client = await connectClient(world.stack.wsUrl(await token("big-frames")));
    client.send(JSON.stringify({ type: "ack", ids: ["x".repeat(200_000)] }));
    expect((await client.closed).code).toBe(1009);
    await world.backend.toUser("bystander", { data: 1, id: "b-1" });
    await other.waitForMessages(1);
    await other.close();
  });
});

describe("tokens", () => {
  const refusedBeforeUpgrade = async (url: string) => {
    const client = openClient(url);
    const info = await client.closed;
    expect(info.httpStatus).toBe(401);
    expect(client.frames).toEqual([]);
  };

  it("refuses a connection without a token that sends no auth frame", async () => {
    const client = openClient(world.stack.wsUrl());
    const info = await client.closed;
    expect(info.code).toBe(CloseCode.HandshakeTimeout);
    expect(client.frames).toEqual([]);
  });

  it("refuses malformed, alg:none, wrong-key, tampered and expired tokens before the upgrade", async () => {
    await refusedBeforeUpgrade(world.stack.wsUrl("not-a-jwt"));
    await refusedBeforeUpgrade(world.stack.wsUrl(forgeAlgNoneToken({ sub: "mallory" })));
    await refusedBeforeUpgrade(world.stack.wsUrl(await signWithWrongKey({ sub: "mallory" })));
    await refusedBeforeUpgrade(
      world.stack.wsUrl(await tamperedToken({ sub: "alice" }, world.stack.jwtSecret, { sub: "mallory" })),
    );
    await refusedBeforeUpgrade(
      world.stack.wsUrl(await signExpiredToken({ sub: "alice" }, world.stack.jwtSecret)),
    );
    await refusedBeforeUpgrade(world.stack.wsUrl(await signToken({ sub: "a.b" }, world.stack.jwtSecret)));
    const noSub = await new SignJWT({ did: "x" })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(world.stack.jwtSecret));
    await refusedBeforeUpgrade(world.stack.wsUrl(noSub));
  });

  it("refuses bad tokens sent in the auth frame with 4001, and expired ones with 4003", async () => {
    const forged = openClient(world.stack.wsUrl(), { authToken: forgeAlgNoneToken({ sub: "mallory" }) });
    expect((await forged.closed).code).toBe(CloseCode.Unauthorized);
    expect(forged.frames).toEqual([]);
    const wrong = openClient(world.stack.wsUrl(), { authToken: await signWithWrongKey({ sub: "mallory" }) });
    expect((await wrong.closed).code).toBe(CloseCode.Unauthorized);
    const expired = openClient(world.stack.wsUrl(), {
      authToken: await signExpiredToken({ sub: "alice" }, world.stack.jwtSecret),
    });
    expect((await expired.closed).code).toBe(CloseCode.TokenExpired);
  });

  it("accepts a valid token in the auth frame", async () => {
    const client = openClient(world.stack.wsUrl(), { authToken: await token("frame-auth") });
    const welcome = await client.waitFor((f) => f.type === "welcome");
    expect(welcome).toMatchObject({ userId: "frame-auth", deviceId: "default" });
    await client.close();
  });

  it("closes a connection with 4003 when its token expires", async () => {
    const exp = Math.floor(Date.now() / 1000) + 2;
    const client = await connectClient(
      world.stack.wsUrl(await signToken({ sub: "short", exp }, world.stack.jwtSecret)),
    );
    expect((await client.closed).code).toBe(CloseCode.TokenExpired);
  });
});

describe("slow clients", () => {
  it("are closed with 4008 when their send buffer fills, and lose nothing", async () => {
    const slow = await connectClient(world.stack.wsUrl(await token("slowpoke")));
    // Stop reading: the server's send buffer for this socket can only grow.
    const socket = (slow.ws as unknown as { _socket: import("node:net").Socket })._socket;
    socket.pause();
    // Far more than the kernel's loopback socket buffers absorb, so the server's own buffer must grow.
    const total = 400;
    const blob = "y".repeat(50_000);
    for (let i = 0; i < total; i++)
      await world.backend.toUser("slowpoke", { data: { i, blob }, id: `s-${i}` });
    socket.resume();
    expect((await slow.closed).code).toBe(CloseCode.SlowConsumer);

    const again = await connectClient(world.stack.wsUrl(await token("slowpoke")), { autoAck: true });
    const messages = await again.waitForMessages(total, 30_000);
    const ids = [...new Set(messages.map((m) => m.id))];
    expect(ids).toEqual(Array.from({ length: total }, (_, i) => `s-${i}`));
    await again.close();
  });
});
