import { DeadReason, Header, type MailboxEntry, subjects, userToken } from "@herald/protocol";
import { createLogger, createMetrics } from "@herald/service-kit";
import { afterEach, describe, expect, it } from "vitest";
import { createRouter } from "./app.js";
import { loadConfig } from "./config.js";
import { counter, intakeSettled, type RouterFixture, startRouter } from "./test/router.js";
import {
  connectTest,
  createStreams,
  readAll,
  startNatsServer,
  useTestServer,
  waitFor,
} from "./test/support.js";

let routers: RouterFixture[] = [];
let n = 0;

// Big enough for the 10 MiB publish the router must reject as too large.
const world = useTestServer({ maxPayload: "16MB" });

afterEach(async () => {
  await Promise.all(routers.map((r) => r.stop()));
  routers = [];
});

/** Fresh streams (under a prefix of its own) and a running router. */
async function setup(env: Record<string, string> = {}) {
  const prefix = `t${++n}`;
  const s = subjects(prefix);
  await createStreams(world.client.jsm, s);
  const fixture = await startRouter(world.server.url, { HERALD_PREFIX: prefix, ...env });
  routers.push(fixture);
  const mailbox = async (userId: string) =>
    (await readAll(world.client.jsm, s.streams.mailbox, s.mailbox(userToken(userId)))).map((m) => ({
      entry: m.json<MailboxEntry>(),
      msgId: m.header?.get(Header.MsgId),
    }));
  const settled = () => waitFor("the intake to drain", () => intakeSettled(world.client, prefix), 30_000);
  return { prefix, s, fixture, mailbox, settled };
}

const publish = (subject: string, body: unknown, options: { msgID?: string } = {}) =>
  world.client.js.publish(subject, typeof body === "string" ? body : JSON.stringify(body), options);

describe("router", () => {
  it("writes a user message to the mailbox and it is republished live", async () => {
    const { s, mailbox, fixture } = await setup();
    expect(fixture.router.notReadyReason()).toBeUndefined();
    const userId = "Zoë@example";
    const token = userToken(userId);
    const live: { body: MailboxEntry; seq: string | undefined }[] = [];
    const sub = world.client.nc.subscribe(s.live(token), {
      callback: (_err, msg) => {
        live.push({ body: msg.json(), seq: msg.headers?.get(Header.StreamSequence) });
      },
    });
    await world.client.nc.flush();

    const ack = await publish(s.sendUser(token), { data: { text: "hi", n: [1, 2] }, id: "m-1" });
    const entries = await waitFor("the mailbox entry", async () => {
      const found = await mailbox(userId);
      return found.length > 0 && found;
    });
    expect(entries).toHaveLength(1);
    const [{ entry, msgId }] = entries as [(typeof entries)[number]];
    // A send body, as the mailbox stream stores a backend's own publish (`ts` is the mailbox's store time).
    expect(entry).toEqual({ id: "m-1", data: { text: "hi", n: [1, 2] } });
    expect(Object.keys(entry)).toEqual(["id", "data"]);
    expect(msgId).toBe(`m-1/${token}`);
    await waitFor("the live copy", () => live.length === 1);
    expect(live[0]?.body).toEqual(entry);
    expect(live[0]?.seq).toBe("1");
    expect(ack.duplicate).toBe(false);
    sub.unsubscribe();
    expect(await counter(fixture.metrics, "herald_router_routed_messages_total", { target: "user" })).toBe(1);
  });

  it("uses Nats-Msg-Id, or else an id that is stable for the intake message", async () => {
    const { s, mailbox, settled } = await setup();
    await publish(s.sendUser("ann"), { data: 1 }, { msgID: "from-header" });
    await publish(s.sendUser("ann"), { data: 2 });
    await settled();
    const entries = await mailbox("ann");
    expect(entries.map((e) => e.entry.data)).toEqual([1, 2]);
    expect(entries[0]?.entry.id).toBe("from-header");
    // Derived: intake stream sequence and timestamp, in base 36.
    expect(entries[1]?.entry.id).toMatch(/^2-[0-9a-z]+$/);
    expect(entries[1]?.msgId).toBe(`${entries[1]?.entry.id}/ann`);
    // Published with a Nats-Msg-Id: that key, as the mailbox stream deduplicates a direct publish.
    expect(entries[0]?.msgId).toBe("from-header");
  });

  it("fans send.users out to each listed user once", async () => {
    const { s, mailbox, settled, fixture } = await setup();
    const userIds = ["u1", "u2", "u1", "ü3", "u2"];
    await publish(s.sendUsers, { userIds, data: { all: true }, id: "fan" });
    await settled();
    for (const userId of ["u1", "u2", "ü3"]) {
      const entries = await mailbox(userId);
      expect(entries.map((e) => e.entry)).toEqual([{ id: "fan", data: { all: true } }]);
    }
    const all = await readAll(world.client.jsm, s.streams.mailbox, s.mailboxAll);
    expect(all).toHaveLength(3);
    expect(await counter(fixture.metrics, "herald_router_deliveries_total", { outcome: "stored" })).toBe(3);
  });

  it("stores a repeated id once", async () => {
    const { s, mailbox, settled, fixture } = await setup();
    await publish(s.sendUser("dup"), { data: "first", id: "same" });
    await publish(s.sendUser("dup"), { data: "second", id: "same" });
    await publish(s.sendUsers, { userIds: ["dup", "other"], data: "third", id: "same" });
    await settled();
    expect((await mailbox("dup")).map((e) => e.entry.data)).toEqual(["first"]);
    expect((await mailbox("other")).map((e) => e.entry.data)).toEqual(["third"]);
    expect(await counter(fixture.metrics, "herald_router_deliveries_total", { outcome: "duplicate" })).toBe(
      2,
    );
  });

  it("keeps one user's messages in publish order, also across send.users", async () => {
    const { s, mailbox, settled } = await setup();
    const count = 2_000;
    const acks = [];
    for (let i = 0; i < count; i++) {
      // Pipelined on one connection: the intake stores them in this order.
      acks.push(
        i % 4 === 3
          ? publish(s.sendUsers, { userIds: ["solo", "pal"], data: i })
          : publish(s.sendUser("solo"), { data: i }),
      );
    }
    await Promise.all(acks);
    await settled();
    const solo = (await mailbox("solo")).map((e) => e.entry.data);
    expect(solo).toEqual(Array.from({ length: count }, (_, i) => i));
    const pal = (await mailbox("pal")).map((e) => e.entry.data);
    expect(pal).toEqual(Array.from({ length: count / 4 }, (_, i) => i * 4 + 3));
  }, 60_000);

  describe("rejects invalid publishes to the dead-letter stream", () => {
    const big = "x".repeat(10 * 1024 * 1024);
    const nonCanonical = `=${Buffer.from("alice").toString("base64url")}`;
    const cases: {
      name: string;
      subject: (s: ReturnType<typeof subjects>) => string;
      payload: string;
      reason: string;
      mentions?: string;
      msgID?: string;
    }[] = [
      {
        name: "not JSON",
        subject: (s) => s.sendUser("a"),
        payload: "{not json",
        reason: DeadReason.InvalidJson,
      },
      {
        name: "not JSON, with line breaks",
        subject: (s) => s.sendUser("a"),
        payload: '{"data":\r\n\u00e9 oops',
        reason: DeadReason.InvalidJson,
      },
      {
        name: "no data",
        subject: (s) => s.sendUser("a"),
        payload: '{"id":"nodata"}',
        reason: DeadReason.MissingData,
      },
      {
        name: "not an object",
        subject: (s) => s.sendUser("a"),
        payload: "[1,2,3]",
        reason: DeadReason.InvalidMessage,
      },
      {
        name: "10 MiB",
        subject: (s) => s.sendUser("a"),
        payload: `{"data":"${big}"}`,
        reason: DeadReason.TooLarge,
      },
      ...[".", "a.b", "*", ">", "a b", " ", "", "tab\tbed"].map((userId, i) => ({
        name: `user id ${JSON.stringify(userId)}`,
        subject: (s: ReturnType<typeof subjects>) => s.sendUsers,
        payload: JSON.stringify({ userIds: ["fine", userId], data: i }),
        reason: DeadReason.InvalidUserId,
        mentions: "userIds[1]",
      })),
      ...[nonCanonical, "=", "=Ym9i=", `=${Buffer.from("a.b").toString("base64url")}`, "=_-_"].map(
        (token, i) => ({
          name: `token ${token}`,
          subject: (s: ReturnType<typeof subjects>) => s.sendUser(token),
          payload: JSON.stringify({ data: i }),
          reason: DeadReason.InvalidUserId,
          mentions: token.slice(0, 4),
        }),
      ),
      {
        name: "two tokens",
        subject: (s) => `${s.sendUserPrefix}a.b`,
        payload: '{"data":1}',
        reason: DeadReason.InvalidUserId,
      },
      {
        name: "a bad channel",
        subject: (s) => s.sendChannel("ne$ws"),
        payload: '{"data":2}',
        reason: DeadReason.InvalidChannel,
      },
      {
        name: "a broadcast with a tail",
        subject: (s) => `${s.sendBroadcast}.x`,
        payload: '{"data":3}',
        reason: DeadReason.UnknownSubject,
      },
      {
        name: "a bad header id",
        subject: (s) => s.sendUser("a"),
        payload: '{"data":4}',
        reason: DeadReason.InvalidMessage,
        msgID: "has space",
      },
    ];

    it("once each, with the reason and the original payload, and nothing in any mailbox", async () => {
      const { s, settled, fixture } = await setup();
      for (const c of cases) {
        await publish(c.subject(s), c.payload, c.msgID ? { msgID: c.msgID } : {});
      }
      await settled();
      const dead = await readAll(world.client.jsm, s.streams.dead, s.deadAll);
      expect(dead).toHaveLength(cases.length);
      for (const c of cases) {
        const subject = c.subject(s);
        const found = dead.filter(
          (m) => m.header?.get(Header.DeadSubject) === subject && m.string() === c.payload,
        );
        expect(found, c.name).toHaveLength(1);
        const [letter] = found as [(typeof found)[number]];
        expect(letter.subject, c.name).toBe(s.dead(c.reason));
        const reason = letter.header?.get(Header.DeadReason) ?? "";
        expect(reason.length, c.name).toBeGreaterThan(10);
        if (c.mentions) expect(reason, c.name).toContain(c.mentions);
      }
      expect(await readAll(world.client.jsm, s.streams.mailbox, s.mailboxAll)).toEqual([]);
      expect(await counter(fixture.metrics, "herald_router_dead_letters_total")).toBe(cases.length);
      expect(
        await counter(fixture.metrics, "herald_router_dead_letters_total", { reason: "invalid_user_id" }),
      ).toBe(14);
    }, 60_000);
  });

  it("keeps what it holds past ack_wait from being redelivered (working())", async () => {
    // All pulled at once and routed one at a time: the last ones wait in the router's hands far longer than the
    // 1 s ack_wait (6,000 × 10 writes take seconds even on a fast machine).
    const count = 6_000;
    const { s, settled } = await setup({
      ROUTER_ACK_WAIT: "1s",
      ROUTER_MAX_INFLIGHT: "1",
      ROUTER_PREFETCH: String(count),
      ROUTER_MAX_ACK_PENDING: String(count),
    });
    const started = performance.now();
    await Promise.all(
      Array.from({ length: count }, (_, i) =>
        publish(s.sendUsers, {
          userIds: Array.from({ length: 10 }, (_, k) => `k${(i * 10 + k) % 500}`),
          data: i,
          id: `ka-${i}`,
        }),
      ),
    );
    await settled();
    // The precondition that lets this test fail: messages were held for longer than ack_wait.
    expect(performance.now() - started).toBeGreaterThan(2_000);
    const info = await world.client.jsm.consumers.info(s.streams.intake, s.consumers.router);
    // Each intake message was delivered once: none came back while the router still held it.
    expect(info.delivered.consumer_seq).toBe(count);
  }, 180_000);

  it("drains on stop: everything held is finished, and the rest is routed by the next router", async () => {
    const { prefix, s, fixture, settled } = await setup({ ROUTER_ACK_WAIT: "2s" });
    const count = 3_000;
    await Promise.all(
      Array.from({ length: count }, (_, i) => publish(s.sendUser(`d${i % 10}`), { data: i })),
    );
    await waitFor(
      "routing to begin",
      async () => (await world.client.jsm.streams.info(s.streams.mailbox)).state.messages > 0,
    );
    await fixture.stop();
    routers = routers.filter((r) => r !== fixture);
    expect(fixture.router.notReadyReason()).toBe("stopped");
    // Nothing is left half-done in the stopped replica.
    expect(await counter(fixture.metrics, "herald_router_inflight_messages")).toBe(0);
    expect(await counter(fixture.metrics, "herald_router_routed_messages_total")).toBeGreaterThan(0);

    const next = await startRouter(world.server.url, { HERALD_PREFIX: prefix, ROUTER_ACK_WAIT: "2s" });
    routers.push(next);
    await settled();
    const all = await readAll(world.client.jsm, s.streams.mailbox, s.mailboxAll);
    expect(all).toHaveLength(count);
    expect(new Set(all.map((m) => m.json<MailboxEntry>().data)).size).toBe(count);
  }, 60_000);

  it("hands a message back when a write fails, and routes it once the mailbox stream is back", async () => {
    const { s, fixture, mailbox, settled } = await setup();
    const mbox = await world.client.jsm.streams.info(s.streams.mailbox);
    await world.client.jsm.streams.delete(s.streams.mailbox);
    await publish(s.sendUser("later"), { data: "kept", id: "k1" });
    await waitFor(
      "a retry",
      async () => (await counter(fixture.metrics, "herald_router_retries_total")) >= 1,
    );
    const pending = await world.client.jsm.consumers.info(s.streams.intake, s.consumers.router);
    expect(pending.num_ack_pending + pending.num_pending).toBe(1);
    await world.client.jsm.streams.add(mbox.config);
    await settled();
    expect((await mailbox("later")).map((e) => e.entry)).toEqual([{ id: "k1", data: "kept" }]);
  }, 30_000);

  it("is not ready while NATS is down", async () => {
    const own = await startNatsServer();
    const s = subjects("down");
    const nats = await connectTest(own.url);
    await createStreams(nats.jsm, s);
    const fixture = await startRouter(own.url, { HERALD_PREFIX: "down" });
    expect(fixture.router.notReadyReason()).toBeUndefined();
    own.kill();
    await waitFor("not ready", () => fixture.router.notReadyReason() === "NATS is not connected");
    await fixture.router.stop();
    await Promise.all([fixture.nats.nc.close(), nats.nc.close()]);
    await own.stop();
  }, 30_000);

  it("is not ready until the streams exist", async () => {
    const prefix = `t${++n}`;
    const s = subjects(prefix);
    const nats = await connectTest(world.server.url);
    const router = createRouter({
      nats,
      config: loadConfig({ NATS_URL: world.server.url, HERALD_PREFIX: prefix }),
      logger: createLogger("router", "silent"),
      metrics: createMetrics("router"),
    });
    const started = router.start();
    await waitFor("waiting state", () => router.notReadyReason()?.includes(s.streams.intake));
    await createStreams(world.client.jsm, s);
    await started;
    await waitFor("leading", () => router.isLeader() && router.notReadyReason() === undefined);
    // Binding is idempotent and follows a changed ack wait.
    const info = await world.client.jsm.consumers.info(s.streams.intake, s.consumers.router);
    expect(info.config.ack_policy).toBe("explicit");
    expect(info.config.ack_wait).toBe(2_000_000_000);
    expect(info.config.max_ack_pending).toBe(1_024);
    expect(info.config.filter_subject ?? "").toBe("");
    const second = await startRouter(world.server.url, { HERALD_PREFIX: prefix, ROUTER_ACK_WAIT: "45s" });
    routers.push(second);
    await router.stop();
    await waitFor("the standby to lead", () => second.router.isLeader());
    await waitFor("the new ack wait", async () => {
      const updated = await world.client.jsm.consumers.info(s.streams.intake, s.consumers.router);
      return updated.config.ack_wait === 45_000_000_000;
    });
    await nats.nc.drain();
  });

  it("stops cleanly while still waiting for streams", async () => {
    const nats = await connectTest(world.server.url);
    const router = createRouter({
      nats,
      config: loadConfig({ NATS_URL: world.server.url, HERALD_PREFIX: "never" }),
      logger: createLogger("router", "silent"),
      metrics: createMetrics("router"),
    });
    const started = router.start();
    await waitFor("waiting state", () => router.notReadyReason()?.startsWith("waiting for stream"));
    await router.stop();
    await started;
    expect(router.notReadyReason()).toBe("stopped");
    await nats.nc.drain();
  });
});
