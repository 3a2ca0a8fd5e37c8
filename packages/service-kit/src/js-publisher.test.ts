import { startNatsServer } from "@herald/testkit";
import { useNats } from "@herald/testkit/vitest";
import { JetStreamApiError, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import {
  JsPublisher,
  JsPublisherClosedError,
  JsPublishNoStreamError,
  JsPublishReplyError,
  JsPublishTimeoutError,
} from "./js-publisher.js";

const body = (text: string) => new TextEncoder().encode(text);

const nats = useNats(async (nc) => {
  // Streams of its own: a server without Herald's NATS identities.
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "P", subjects: ["p.>"], storage: "file", duplicate_window: 60e9 });
});

describe("JsPublisher", () => {
  it("stores what it publishes and resolves with the PubAck, in order, with many in flight", async () => {
    const publisher = new JsPublisher(nats.nc, { timeoutMs: 5_000 });
    const acks = await Promise.all(
      Array.from({ length: 2_000 }, (_, i) => publisher.publish(`p.order.${i % 7}`, body(`m${i}`))),
    );
    const seqs = acks.map((ack) => ack.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(2_000);
    expect(acks.every((ack) => ack.stream === "P" && ack.duplicate === false)).toBe(true);
    expect(publisher.inFlight).toBe(0);
    publisher.close();
  });

  it("asks for PubAcks below the inbox prefix it is given (the only inbox NATS permissions may allow)", async () => {
    const publisher = new JsPublisher(nats.nc, { timeoutMs: 5_000, inboxPrefix: "_INBOX.test.router" });
    const seen: string[] = [];
    const tap = nats.nc.subscribe("p.inbox", {
      callback: (_err, msg) => {
        seen.push(msg.reply ?? "");
      },
    });
    await nats.nc.flush();
    const ack = await publisher.publish("p.inbox", body("x"));
    expect(ack.stream).toBe("P");
    // The copy to `tap` was sent before the PONG of this flush.
    await nats.nc.flush();
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatch(/^_INBOX\.test\.router\.\w+\.\w+$/);
    tap.unsubscribe();
    publisher.close();
  });

  it("reports a repeated msgID as a duplicate of the first write", async () => {
    const publisher = new JsPublisher(nats.nc, { timeoutMs: 5_000 });
    const first = await publisher.publish("p.dup", body("a"), { msgID: "same" });
    const second = await publisher.publish("p.dup", body("b"), { msgID: "same" });
    expect(second).toMatchObject({ duplicate: true, seq: first.seq });
    publisher.close();
  });

  it("rejects a compare-and-set on a stale sequence with the JetStream error code", async () => {
    const publisher = new JsPublisher(nats.nc, { timeoutMs: 5_000 });
    const first = await publisher.publish("p.cas", body("1"), { expectLastSubjectSequence: 0 });
    await publisher.publish("p.cas", body("2"), { expectLastSubjectSequence: first.seq });
    const stale = publisher.publish("p.cas", body("3"), { expectLastSubjectSequence: first.seq });
    await expect(stale).rejects.toBeInstanceOf(JetStreamApiError);
    await expect(stale).rejects.toMatchObject({ code: 10071 });
    publisher.close();
  });

  it("rejects at once when no stream captures the subject", async () => {
    const publisher = new JsPublisher(nats.nc, { timeoutMs: 5_000 });
    await expect(publisher.publish("nowhere.at.all", body("x"))).rejects.toBeInstanceOf(
      JsPublishNoStreamError,
    );
    publisher.close();
  });

  it("publishes again after nats-server restarts (the reply subscription comes back with the connection)", async () => {
    const own = await startNatsServer({ auth: false });
    const client = await connect({
      servers: own.url,
      noAsyncTraces: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
    });
    try {
      const jsm = await jetstreamManager(client);
      await jsm.streams.add({ name: "Q", subjects: ["q.>"], storage: "file" });
      const publisher = new JsPublisher(client, { timeoutMs: 2_000 });
      const before = await publisher.publish("q.a", body("1"));
      await own.restart();
      const deadline = Date.now() + 20_000;
      let after: Awaited<ReturnType<JsPublisher["publish"]>> | undefined;
      // While the client reconnects a publish may time out; once it is back, one must succeed.
      while (!after && Date.now() < deadline) {
        after = await publisher.publish("q.a", body("2")).catch(() => undefined);
      }
      expect(after?.seq).toBe(before.seq + 1);
      publisher.close();
    } finally {
      await client.close();
      await own.dispose();
    }
  }, 60_000);

  it("rejects a reply that is not a PubAck with a named error", async () => {
    // A plain responder stands in for something that answers on the subject but is not JetStream.
    const impostor = nats.nc.subscribe("impostor.>", {
      callback: (_err, msg) => {
        msg.respond(msg.subject.endsWith("json") ? "{}" : "not json");
      },
    });
    const publisher = new JsPublisher(nats.nc, { timeoutMs: 5_000 });
    await expect(publisher.publish("impostor.text", body("x"))).rejects.toBeInstanceOf(JsPublishReplyError);
    await expect(publisher.publish("impostor.json", body("x"))).rejects.toMatchObject({ code: "bad_puback" });
    publisher.close();
    impostor.unsubscribe();
  });

  it("times out when nothing answers, and rejects what is in flight when closed", async () => {
    // A plain subscriber that never replies stands in for a stream that does not answer.
    const silent = nats.nc.subscribe("silent.>");
    const publisher = new JsPublisher(nats.nc, { timeoutMs: 200 });
    await expect(publisher.publish("silent.x", body("x"))).rejects.toBeInstanceOf(JsPublishTimeoutError);
    expect(publisher.inFlight).toBe(0);
    const held = publisher.publish("silent.y", body("y"));
    publisher.close();
    await expect(held).rejects.toBeInstanceOf(JsPublisherClosedError);
    await expect(publisher.publish("p.after", body("z"))).rejects.toBeInstanceOf(JsPublisherClosedError);
    silent.unsubscribe();
  });
});
