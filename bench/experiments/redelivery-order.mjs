// In what order does nats-server hand a consumer's unacked messages back after their holder dies? In the order
// they expire, not in stream order: a message nak'd with a delay comes back after later messages that were
// only left unacked, even when all of them have expired before the next pull. A new router leader that takes
// over after a crash therefore gets a user's messages out of order when the dead leader had nak'd the earlier
// one (a retry, or an order fence) with a delay longer than the later one's remaining ack_wait.
// Usage (after `pnpm build`):
//   node bench/experiments/redelivery-order.mjs
// Found on nats-server 2.9.10: "redelivery order: 1,3,4,5,6,7,8,9,10,2" (num_ack_pending 10).
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { startNatsServer } from "../../e2e/dist/fixtures/index.js";

const server = await startNatsServer();
try {
  const holder = await connect({ servers: server.url });
  const jsm = await jetstreamManager(holder);
  await jsm.streams.add({ name: "S", subjects: ["S.>"], retention: RetentionPolicy.Workqueue });
  await jsm.consumers.add("S", {
    durable_name: "r",
    ack_policy: AckPolicy.Explicit,
    ack_wait: 1_000_000_000,
  });
  const js = jetstream(holder);
  for (let i = 0; i < 10; i++) await js.publish(`S.u${i}`, `m${i}`);
  const held = await (await js.consumers.get("S", "r")).fetch({ max_messages: 10, expires: 2_000 });
  // The holder naks message 2 with a delay of 1.5 s (ack_wait is 1 s), leaves the rest unacked, and dies.
  for await (const m of held) if (m.seq === 2) m.nak(1_500);
  await holder.flush();
  await holder.close();
  await new Promise((resolve) => setTimeout(resolve, 3_000)); // every message has expired by now
  const next = await connect({ servers: server.url });
  const info = await (await jetstreamManager(next)).consumers.info("S", "r");
  const order = [];
  const again = await (await jetstream(next).consumers.get("S", "r")).fetch({
    max_messages: 10,
    expires: 2_000,
  });
  for await (const m of again) {
    order.push(m.seq);
    m.ack();
  }
  console.log(`num_ack_pending ${info.num_ack_pending}; redelivery order: ${order.join(",")}`);
  await next.close();
} finally {
  await server.dispose();
}
