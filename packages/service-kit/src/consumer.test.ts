import { useNats } from "@herald/testkit/vitest";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { ensureConsumer } from "./consumer.js";
import { isStreamNotFound } from "./js-errors.js";

let jsm: JetStreamManager;

useNats(async (nc) => {
  jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "WORK", subjects: ["work.>"] });
});

describe("ensureConsumer", () => {
  it("creates the durable consumer, binds to it again and updates changed tunables", async () => {
    const settings = { stream: "WORK", name: "workers", ackWaitMs: 2_000, maxAckPending: 64 };
    const created = await ensureConsumer(jsm, settings);
    expect(created.config).toMatchObject({
      durable_name: "workers",
      ack_wait: nanos(2_000),
      max_ack_pending: 64,
    });

    const bound = await ensureConsumer(jsm, settings);
    expect(bound.created).toBe(created.created);

    const updated = await ensureConsumer(jsm, { ...settings, ackWaitMs: 5_000, maxAckPending: 128 });
    expect(updated.config).toMatchObject({ ack_wait: nanos(5_000), max_ack_pending: 128 });
    expect(updated.created).toBe(created.created);
  });

  it("sets and updates what a consumer reads, and keeps it when none is asked for", async () => {
    const settings = { stream: "WORK", name: "narrow", ackWaitMs: 1_000, maxAckPending: 8 };
    const whole = await ensureConsumer(jsm, settings);
    expect(whole.config.filter_subjects ?? []).toEqual([]);
    const narrowed = await ensureConsumer(jsm, { ...settings, filterSubjects: ["work.a", "work.b.>"] });
    expect(narrowed.config.filter_subjects).toEqual(["work.a", "work.b.>"]);
    expect(narrowed.created).toBe(whole.created);
    const kept = await ensureConsumer(jsm, settings);
    expect(kept.config.filter_subjects).toEqual(["work.a", "work.b.>"]);
    const other = await ensureConsumer(jsm, { ...settings, name: "other", filterSubjects: ["work.c"] });
    expect(other.config.filter_subjects).toEqual(["work.c"]);
  });

  it("is safe when several replicas ensure it at once", async () => {
    const settings = { stream: "WORK", name: "racers", ackWaitMs: 1_000, maxAckPending: 8 };
    const infos = await Promise.all(Array.from({ length: 5 }, () => ensureConsumer(jsm, settings)));
    expect(new Set(infos.map((info) => info.name))).toEqual(new Set(["racers"]));
  });

  it("throws what is not 'consumer not found' instead of creating over it", async () => {
    const err = await ensureConsumer(jsm, {
      stream: "MISSING",
      name: "workers",
      ackWaitMs: 1_000,
      maxAckPending: 8,
    }).catch((e: unknown) => e);
    expect(isStreamNotFound(err)).toBe(true);
  });
});
