import { type MailboxEntry, userToken } from "@herald/protocol";
import {
  connectClient,
  createEarlierLayout,
  type NatsServer,
  type Stack,
  signToken,
  startNatsServer,
  startStack,
  waitUntil,
} from "@herald/testkit";
import { AckPolicy } from "@nats-io/jetstream";
import { afterEach, describe, expect, it } from "vitest";
import { type Backend, connectBackend } from "./support/backend.js";

let nats: NatsServer | undefined;
let stack: Stack | undefined;
let backend: Backend | undefined;

afterEach(async () => {
  await backend?.close();
  await stack?.stop().catch(() => {});
  await nats?.dispose();
  backend = undefined;
  stack = undefined;
  nats = undefined;
});

describe("upgrading an install of the earlier stream layout in place", () => {
  it("delivers every message accepted before and after once: old MBOX entries, INTAKE left unrouted, new sends", async () => {
    nats = await startNatsServer({ auth: false });
    backend = await connectBackend(nats.url);
    const b = backend;
    const s = b.s;
    const user = "upgrader";
    const token = userToken(user);
    await createEarlierLayout(await b.jsm(), s);
    // What the earlier router had written, and what it had not routed yet when it was stopped.
    for (let i = 0; i < 5; i++) {
      const entry = JSON.stringify({ id: `mbox-${i}`, data: i, ts: Date.now() });
      await b.js.publish(s.mailbox(token), entry, { msgID: `mbox-${i}/${token}` });
    }
    for (let i = 5; i < 10; i++) await b.toUser(user, { data: i, id: `intake-${i}` });
    await b.toUsers({ userIds: [user, "bystander"], data: 10, id: "intake-fan" });
    await b.publish(s.sendUser(token), '{"data":11}', "intake-header-11");
    expect((await (await b.jsm()).streams.info(s.streams.intake)).state.messages).toBe(7);

    stack = await startStack({ nats });
    const intake = await (await b.jsm()).streams.info(s.streams.intake);
    expect(intake.config.subjects).toEqual([...s.intakeSubjects]);
    const mailbox = await (await b.jsm()).streams.info(s.streams.mailbox);
    expect(mailbox.config.subjects).toEqual([s.sendUserAll, `${s.mailboxPrefix}*`]);
    // The backlog cap refuses instead of dropping (issue 14), set on the existing stream in place.
    expect(mailbox.config.discard_new_per_subject).toBe(true);
    for (let i = 12; i < 17; i++) {
      const ack = await b.toUser(user, { data: i, id: `new-${i}` });
      expect(ack.stream).toBe(s.streams.mailbox);
    }
    await waitUntil(async () => (await (await b.jsm()).streams.info(s.streams.intake)).state.messages === 0, {
      timeoutMs: 20_000,
      message: "the earlier INTAKE drained by the new router",
    });
    // A backend retrying an earlier publish (same Nats-Msg-Id) after the switch: still stored once.
    const retried = await b.publish(s.sendUser(token), '{"data":11}', "intake-header-11");
    expect(retried.duplicate).toBe(true);

    const client = await connectClient(stack.wsUrl(await signToken({ sub: user }, stack.jwtSecret)), {
      autoAck: true,
    });
    const messages = await client.waitForMessages(17, 30_000);
    expect(messages.map((m) => m.data as number).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 17 }, (_, i) => i),
    );
    expect(new Set(messages.map((m) => m.id)).size).toBe(17);
    // The earlier entries first (they were stored first), each in its own order.
    expect(messages.slice(0, 5).map((m) => m.id)).toEqual(Array.from({ length: 5 }, (_, i) => `mbox-${i}`));
    expect(await b.mailboxCount(user)).toBe(17);
    await client.close();
  });

  it("partitions the previous release's intake in place: what it held is routed before what comes after", async () => {
    nats = await startNatsServer({ auth: false });
    backend = await connectBackend(nats.url);
    const b = backend;
    const s = b.s;
    const jsm = await b.jsm();
    stack = await startStack({ nats });
    await stack.stop();
    stack = undefined;
    // The previous release: an unpartitioned intake, read whole by the one `router` consumer (recreated, as
    // an update keeps a transform it does not name).
    const { subject_transform: _partitioned, ...current } = (await jsm.streams.info(s.streams.intake)).config;
    const previous = [s.sendUsers, s.sendChannel(">"), s.sendBroadcast, `${s.sendUserPrefix}*.>`];
    await jsm.streams.delete(s.streams.intake);
    await jsm.streams.add({ ...current, subjects: previous });
    expect((await jsm.streams.info(s.streams.intake)).config.subject_transform).toBeUndefined();
    await jsm.consumers.add(s.streams.intake, {
      durable_name: s.consumers.router,
      ack_policy: AckPolicy.Explicit,
    });
    // Accepted while no router ran: stored as published.
    for (let i = 0; i < 50; i++) await b.publish(s.sendChannel("news"), { data: i, id: `old-${i}` });
    await b.toUsers({ userIds: ["reader"], data: "old", id: "old-fan" });
    expect((await jsm.streams.info(s.streams.intake)).state.messages).toBe(51);

    stack = await startStack({ nats });
    const intake = await jsm.streams.info(s.streams.intake);
    expect(intake.config.subject_transform).toEqual(s.intakeTransform(8));
    for (let i = 50; i < 100; i++) await b.publish(s.sendChannel("news"), { data: i, id: `new-${i}` });
    await b.publish(s.sendUsersKeyed("tenant-1"), { userIds: ["reader"], data: "new", id: "new-fan" });
    await waitUntil(async () => (await jsm.streams.info(s.streams.intake)).state.messages === 0, {
      timeoutMs: 30_000,
      message: "the intake drained",
    });
    const router = await jsm.consumers.info(s.streams.intake, s.consumers.router);
    expect(router.config.filter_subjects).toEqual([s.sendAll]);
    // One channel's messages in publish order across the switch: the partition lane waited for the old ones.
    const stored: number[] = [];
    for (let seq = 1; ; ) {
      const msg = await jsm.direct.getMessage(s.streams.channel("default"), {
        seq,
        next_by_subj: s.channel("default", "news"),
      });
      if (!msg) break;
      stored.push(msg.json<MailboxEntry>().data as number);
      seq = msg.seq + 1;
    }
    expect(stored).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(await b.mailboxCount("reader")).toBe(2);
  });
});
