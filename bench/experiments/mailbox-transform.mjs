// Can the mailbox stream take single-user publishes itself (one write, no router hop), and can an install of
// the earlier layout (INTAKE capturing `send.>`, MBOX `mbox.*`) be switched in place? Checks, on the pinned
// nats-server: the transform stores `send.user.<u>` as `mbox.<u>` beside plain `mbox.*` writes; RePublish
// carries Nats-Sequence, the per-subject Nats-Last-Sequence chain, Nats-Time-Stamp and the publisher's
// Nats-Msg-Id; dedup by Nats-Msg-Id; a publish over max_msg_size is refused (which API code); messages left in
// INTAKE stay there after its subjects narrow.
// Usage (after `pnpm build`):
//   node bench/experiments/mailbox-transform.mjs
// Found on nats-server 2.15.1 (2026-12-05): INTAKE keeps its 1 message after narrowing; the update of MBOX
// in place is accepted; a repeated Nats-Msg-Id gets duplicate: true; over max_msg_size: API code 10054; live
// copies carry Nats-Msg-Id (direct publishes only), Nats-Subject h.mbox.u1, Nats-Sequence, Nats-Time-Stamp
// and Nats-Last-Sequence chaining the direct and the plain mbox.* writes of one user.
import { JetStreamApiError, jetstream, jetstreamManager, RetentionPolicy } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { startNatsServer } from "../../e2e/dist/fixtures/index.js";

const server = await startNatsServer();
try {
  const nc = await connect({ servers: server.url });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  // The earlier layout, with a message pending in each stream.
  await jsm.streams.add({ name: "INTAKE", subjects: ["h.send.>"], retention: RetentionPolicy.Workqueue });
  await jsm.streams.add({
    name: "MBOX",
    subjects: ["h.mbox.*"],
    allow_direct: true,
    republish: { src: "h.mbox.>", dest: "h.live.>" },
  });
  await js.publish("h.send.user.u1", '{"data":"old intake"}');
  await js.publish("h.mbox.u1", '{"id":"o1","data":"old mailbox","ts":1}');
  const live = [];
  nc.subscribe("h.live.>", {
    callback: (_e, m) =>
      live.push({ subject: m.subject, data: m.string(), h: Object.fromEntries(m.headers) }),
  });
  // The switch: INTAKE releases send.user.* first, then MBOX takes it.
  await jsm.streams.update("INTAKE", { subjects: ["h.send.users", "h.send.channel.>", "h.send.user.*.>"] });
  await jsm.streams.update("MBOX", {
    subjects: ["h.send.user.*", "h.mbox.*"],
    subject_transform: { src: "h.send.user.*", dest: "h.mbox.{{wildcard(1)}}" },
    max_msg_size: 1024,
    duplicate_window: 120_000_000_000,
  });
  const intake = await jsm.streams.info("INTAKE");
  console.log(`INTAKE after narrowing: ${intake.state.messages} message(s) kept`);
  const a = await js.publish("h.send.user.u1", '{"data":"direct"}', { msgID: "k1" });
  const b = await js.publish("h.send.user.u1", '{"data":"direct again"}', { msgID: "k1" });
  const c = await js.publish("h.mbox.u1", '{"id":"r1","data":"router"}');
  console.log(
    `publish seq ${a.seq} dup ${a.duplicate}; same msg id: seq ${b.seq} dup ${b.duplicate}; mbox.* seq ${c.seq}`,
  );
  try {
    await js.publish("h.send.user.u1", "x".repeat(2048));
    console.log("too large: stored!");
  } catch (err) {
    console.log(
      `too large: refused, ${err instanceof JetStreamApiError ? `api code ${err.code}` : err.message}`,
    );
  }
  const got = await jsm.direct.getMessage("MBOX", { seq: 1, next_by_subj: "h.mbox.u1" });
  const next = await jsm.direct.getMessage("MBOX", { seq: got.seq + 1, next_by_subj: "h.mbox.u1" });
  console.log(
    `direct get next_by_subj: ${got.seq} ${got.subject}; ${next.seq} ${next.subject} msgid ${next.header.get("Nats-Msg-Id")} time ${next.time.toISOString()}`,
  );
  await nc.flush();
  await new Promise((resolve) => setTimeout(resolve, 200));
  for (const m of live) console.log("live", m.subject, m.data, JSON.stringify(m.h));
  await nc.close();
} finally {
  await server.dispose();
}
