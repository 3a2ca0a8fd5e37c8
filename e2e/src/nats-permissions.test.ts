import { readFileSync } from "node:fs";
import {
  type AckBundle,
  type CursorReply,
  natsAccountsConfig,
  type PresenceReport,
  type Receipt,
  userToken,
} from "@herald/protocol";
import {
  connectClient,
  SHIPPED_AUTH_CONF,
  signToken,
  type TestClient,
  waitUntil,
  withTimeout,
} from "@herald/testkit";
import { type NatsConnection, PermissionViolationError, type Status } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { type Backend, connectBackend } from "./support/backend.js";
import { watchPresence } from "./support/presence.js";
import { useStack } from "./support/use-stack.js";

// Issue 13, item 4: the NATS identities that ship (k8s/nats/auth.conf, the generator's output) keep a backend
// to its public subjects. Every service of this stack runs as its own identity, as in every e2e test.
const world = useStack();
const encoder = new TextEncoder();

const connectAs = async (userId: string, deviceId = "phone"): Promise<TestClient> =>
  connectClient(world.stack.wsUrl(await signToken({ sub: userId, did: deviceId }, world.stack.jwtSecret)));

/**
 * Runs `act` and resolves with the server's permission violation for `operation` on `subject` (a `-ERR` the
 * client reports as a status); fails if none comes within the deadline.
 */
async function refused(
  nc: NatsConnection,
  operation: "publish" | "subscription",
  subject: string,
  act: () => unknown,
): Promise<PermissionViolationError> {
  // `status()` is a queued iterator: `stop()` ends it (and this loop) once the answer is in.
  const statuses = nc.status() as AsyncIterable<Status> & { stop: () => void };
  const seen = (async () => {
    for await (const status of statuses) {
      const err = status.type === "error" ? status.error : undefined;
      if (err instanceof PermissionViolationError && err.operation === operation && err.subject === subject) {
        return err;
      }
    }
    return undefined;
  })();
  try {
    // A refused request also rejects on its own; the violation is what is asserted.
    Promise.resolve()
      .then(act)
      .catch(() => {});
    const violation = await withTimeout(seen, 5_000, `a permission violation for ${operation} to ${subject}`);
    if (!violation) throw new Error(`the connection's status ended before a violation for ${subject}`);
    return violation;
  } finally {
    statuses.stop();
  }
}

describe("the shipped NATS permissions", () => {
  it("are the generator's output (k8s/nats/auth.conf), and every e2e server runs with them", () => {
    expect(readFileSync(SHIPPED_AUTH_CONF, "utf8")).toBe(natsAccountsConfig());
    expect(world.nats.auth?.config).toBe(natsAccountsConfig());
  });

  it("refuse a connection without credentials", async () => {
    await expect(connectBackend(world.nats.url)).rejects.toThrow(/Authorization Violation/i);
  });
});

describe("a publisher (a backend's identity)", () => {
  it("publishes, asks the public APIs and follows receipts and presence events", async () => {
    const b = world.backend;
    const presence = watchPresence(b.nc);
    const receipts: Receipt[] = [];
    const sub = b.nc.subscribe(b.s.receipt("pub-alice"), {
      callback: (_e, m) => {
        receipts.push(m.json());
      },
    });
    try {
      const client = await connectAs("pub-alice");
      await presence.waitEvents("pub-alice", ["online"]);
      await b.toUser("pub-alice", { data: "hi", id: "pub-1" });
      const [message] = await client.waitForMessages(1);
      expect(message).toMatchObject({ id: "pub-1", data: "hi" });
      client.ack(["pub-1"]);
      await waitUntil(() => receipts.length > 0, { timeoutMs: 10_000, message: "a receipt" });
      // The cursor is written behind the receipt (`PERSISTENCE_CURSOR_DELAY`).
      const cursor = await waitUntil(
        async () => {
          const reply = await b.request<CursorReply>(b.s.cursorGet, { userId: "pub-alice" });
          return reply.devices[0]?.ackedSeq === message!.seq ? reply : undefined;
        },
        { timeoutMs: 10_000, message: "the cursor written" },
      );
      expect(cursor.devices).toEqual([{ deviceId: "phone", ackedSeq: message!.seq, pending: 0 }]);
      expect((await presence.get("pub-alice")).online).toBe(true);
      expect((await presence.count()).connections).toBeGreaterThan(0);
      await client.close();
    } finally {
      sub.unsubscribe();
      presence.stop();
    }
  });

  it("cannot write into a user's mailbox", async () => {
    const b = world.backend;
    const client = await connectAs("mbox-victim");
    const subject = b.s.mailbox(userToken("mbox-victim"));
    const forged = JSON.stringify({ id: "forged", data: "phish", ts: Date.now() });
    await refused(b.nc, "publish", subject, () => b.nc.publish(subject, forged));
    // What the victim does get is what the router wrote from a real publish.
    await b.toUser("mbox-victim", { data: "real", id: "real-1" });
    expect((await client.waitForMessages(1)).map((m) => m.id)).toEqual(["real-1"]);
    expect(await world.operator.mailboxCount("mbox-victim")).toBe(1);
    await client.close();
  });

  it("cannot publish a forged ack bundle that moves a victim's cursor", async () => {
    const b = world.backend;
    const client = await connectAs("ack-victim");
    await b.toUser("ack-victim", { data: 1, id: "unacked-1" });
    await client.waitForMessages(1);
    const bundle: AckBundle = {
      batches: [
        {
          userId: "ack-victim",
          deviceId: "phone",
          acks: [{ id: "x", seq: 2 ** 40, prev: 0 }],
          at: Date.now(),
        },
      ],
    };
    const subject = b.s.ack("forger");
    await refused(b.nc, "publish", subject, () => b.nc.publish(subject, JSON.stringify(bundle)));
    // Nor straight into the cursor bucket.
    const key = b.s.cursorKeySubject(`${userToken("ack-victim")}.phone`);
    await refused(b.nc, "publish", key, () => b.nc.publish(key, '{"floor":1099511627776,"above":[]}'));
    const cursor = await b.request<CursorReply>(b.s.cursorGet, { userId: "ack-victim" });
    expect(cursor.devices).toEqual([{ deviceId: "phone", ackedSeq: 0, pending: 1 }]);
    await client.close();
  });

  it("cannot read a mailbox through api.replay, nor listen to live messages or other identities' replies", async () => {
    const b = world.backend;
    await b.toUser("replay-victim", { data: "secret", id: "secret-1" });
    const request = JSON.stringify({ userId: "replay-victim", deviceId: "phone", limit: 10 });
    await refused(b.nc, "publish", b.s.replay, () => b.nc.request(b.s.replay, request, { timeout: 2_000 }));
    const live = b.s.live(userToken("replay-victim"));
    await refused(b.nc, "subscription", live, () => b.nc.subscribe(live));
    // Replay replies go to the connector's inbox; only the connector may read there.
    const inbox = `${b.s.inboxPrefix("connector")}.>`;
    await refused(b.nc, "subscription", inbox, () => b.nc.subscribe(inbox));
    await refused(b.nc, "subscription", b.s.mailboxAll, () => b.nc.subscribe(b.s.mailboxAll));
  });

  it("cannot disconnect anyone through control.disconnect", async () => {
    const b = world.backend;
    const client = await connectAs("kick-victim");
    const subject = b.s.controlDisconnect;
    await refused(b.nc, "publish", subject, () =>
      b.nc.publish(subject, JSON.stringify({ userId: "kick-victim", code: 4010, reason: "forged" })),
    );
    // Still connected: a message published after the attempt arrives.
    await b.toUser("kick-victim", { data: "still here", id: "after-kick" });
    expect((await client.waitForMessages(1)).map((m) => m.id)).toEqual(["after-kick"]);
    expect(client.closeInfo()).toBeUndefined();
    await client.close();
  });

  it("cannot forge presence: neither a connector's report nor an event", async () => {
    const b = world.backend;
    const report: PresenceReport = {
      type: "open",
      connectorId: "forged-connector",
      bootId: "forged-boot",
      seq: 0,
      connection: { connectionId: "forged-1", userId: "ghost", deviceId: "d", since: Date.now() },
    };
    const subject = b.s.presenceReport("forged-connector");
    await refused(b.nc, "publish", subject, () =>
      b.nc.publish(subject, encoder.encode(JSON.stringify(report))),
    );
    const event = b.s.presenceEvent("ghost");
    await refused(b.nc, "publish", event, () =>
      b.nc.publish(event, JSON.stringify({ type: "online", userId: "ghost", at: Date.now() })),
    );
    const presence = watchPresence(b.nc);
    try {
      expect(await presence.get("ghost")).toEqual({ userId: "ghost", online: false, connections: [] });
      expect(Object.keys((await presence.count()).connectors)).not.toContain("forged-connector");
    } finally {
      presence.stop();
    }
  });
});

describe("an operator", () => {
  it("disconnects a user, reads stream info and dead letters, and still cannot write a mailbox", async () => {
    const op: Backend = world.operator;
    const client = await connectAs("op-target");
    const replies = await op.nc.requestMany(
      op.s.controlDisconnect,
      JSON.stringify({ userId: "op-target", code: 4011, reason: "operator kick" }),
      { strategy: "count", maxMessages: world.stack.connectors.length, maxWait: 5_000 },
    );
    const answers: unknown[] = [];
    for await (const reply of replies) answers.push(reply.json());
    expect(answers).toEqual([{ closed: 1 }]);
    expect(await withTimeout(client.closed, 5_000, "the kick")).toEqual({
      code: 4011,
      reason: "operator kick",
    });

    const info = await (await op.jsm()).streams.info(op.s.streams.intake);
    expect(info.config.name).toBe(op.s.streams.intake);
    await op.publish(op.s.sendUser("bad.token"), { data: 1 });
    await waitUntil(async () => (await op.deadLetters()).length > 0, { message: "a dead letter" });

    const subject = op.s.mailbox("op-target");
    await refused(op.nc, "publish", subject, () => op.nc.publish(subject, "{}"));
  });
});

describe("the services", () => {
  it("ran every test above within their own permissions (no violation in any log)", () => {
    for (const service of world.stack.all()) {
      const violations = service.logs().filter((line) => /permissions violation/i.test(line));
      expect(violations, service.name).toEqual([]);
    }
  });
});
