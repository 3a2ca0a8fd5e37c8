import { describe, expect, it } from "vitest";
import { HandlerError, ProtocolError, ServerError } from "./errors.js";
import { useHarness } from "./test-support/harness.js";
import { expectQuiet, waitFor } from "./test-support/wait.js";
import type { HeraldMessage } from "./types.js";

const h = useHarness();

describe("HeraldClient delivery", () => {
  it("connects with the token in the query string and reports the welcome", async () => {
    const server = await h.server();
    const { client, events } = h.client(server);
    expect(client.state).toBe("disconnected");
    const welcome = await client.connect();
    expect(welcome).toEqual({ userId: "alice", deviceId: "phone", connectionId: "conn-1" });
    expect(client.connection).toEqual(welcome);
    expect(client.deviceId).toBe("phone");
    expect(client.state).toBe("connected");
    expect(events.states).toEqual(["connecting", "connected"]);
    expect(events.connected).toEqual([welcome]);
    const connection = await server.connection(1);
    expect(connection.token).toBe("token-1");
    expect(new URL(connection.path, "http://x").pathname).toBe("/ws");
    // A second connect() joins the live connection instead of opening another.
    await expect(client.connect()).resolves.toEqual(welcome);
    expect(server.connections).toHaveLength(1);
  });

  it("acks a message only after its async handler has finished", async () => {
    const server = await h.server();
    const { client } = h.client(server);
    let finished = false;
    client.on("message", async (message) => {
      expect(message).toMatchObject({ id: "m1", seq: 1, data: { n: 1 }, ts: 1_700_000_000_001 });
      await new Promise((resolve) => setTimeout(resolve, 30)); // work that takes a while
      finished = true;
    });
    await client.connect();
    const connection = await server.connection(1);
    let finishedWhenAcked: boolean | undefined;
    connection.ws.on("message", () => {
      finishedWhenAcked ??= finished;
    });
    connection.message("m1", 1);
    await connection.waitForAck("m1");
    expect(finishedWhenAcked).toBe(true);
    expect(connection.ackFrames()).toEqual([["m1"]]);
  });

  it("calls handlers in arrival order, one message at a time", async () => {
    const server = await h.server();
    const { client } = h.client(server);
    const log: string[] = [];
    client.on("message", async (message) => {
      log.push(`start ${message.id}`);
      await new Promise((resolve) => setTimeout(resolve, message.id === "m1" ? 20 : 0));
      log.push(`end ${message.id}`);
    });
    await client.connect();
    const connection = await server.connection(1);
    connection.message("m1", 1);
    connection.message("m2", 2);
    await connection.waitForAck("m2");
    expect(log).toEqual(["start m1", "end m1", "start m2", "end m2"]);
    expect(connection.ackedIds()).toEqual(["m1", "m2"]);
  });

  it("does not run the handler again for a redelivered id, but acks it again", async () => {
    const server = await h.server();
    const { client } = h.client(server);
    const handled: string[] = [];
    client.on("message", (message) => void handled.push(message.id));
    await client.connect();
    const connection = await server.connection(1);
    connection.message("m1", 1);
    await connection.waitForAck("m1");
    connection.message("m1", 1); // as if the first ack was lost
    connection.message("m2", 2);
    await connection.waitForAck("m2");
    await connection.waitForAck("m1", 2);
    expect(handled).toEqual(["m1", "m2"]);
  });

  it("does not ack when the handler throws, emits an error, and handles the redelivery", async () => {
    const server = await h.server();
    const { client, events } = h.client(server);
    const attempts: string[] = [];
    client.on("message", (message) => {
      attempts.push(message.id);
      if (message.id === "m1" && attempts.length === 1) throw new Error("database down");
    });
    await client.connect();
    const connection = await server.connection(1);
    connection.message("m1", 1);
    connection.message("m2", 2);
    await connection.waitForAck("m2");
    expect(connection.ackedIds()).toEqual(["m2"]);
    const error = events.errors[0];
    expect(error).toBeInstanceOf(HandlerError);
    expect(error).toMatchObject({ code: "handler", messageId: "m1" });
    expect((error as HandlerError).cause).toEqual(new Error("database down"));

    connection.message("m1", 1); // the server's redelivery after its ack timeout
    await connection.waitForAck("m1");
    expect(attempts).toEqual(["m1", "m2", "m1"]);
  });

  it("treats a rejected promise like a throw", async () => {
    const server = await h.server();
    const { client, events } = h.client(server);
    client.on("message", async (message) => {
      if (message.id === "bad") throw new Error("nope");
    });
    await client.connect();
    const connection = await server.connection(1);
    connection.message("bad", 1);
    connection.message("good", 2);
    await connection.waitForAck("good");
    expect(connection.ackedIds()).toEqual(["good"]);
    expect(events.errors.map((error) => error.code)).toEqual(["handler"]);
  });

  it("leaves messages unacked while no message handler is registered", async () => {
    const server = await h.server();
    const { client } = h.client(server);
    await client.connect();
    const connection = await server.connection(1);
    connection.message("early", 1);
    await expectQuiet(() => connection.ackedIds().length > 0, "an ack without a handler", 50);
    client.on("message", () => {});
    connection.message("late", 2);
    await connection.waitForAck("late");
    expect(connection.ackedIds()).toEqual(["late"]);
  });

  it("batches automatic acks, at most 1000 ids per frame", async () => {
    const server = await h.server();
    const { client } = h.client(server);
    let handled = 0;
    client.on("message", () => {
      handled++;
    });
    await client.connect();
    const connection = await server.connection(1);
    const ids = Array.from({ length: 2500 }, (_, i) => `m${i}`);
    for (const [i, id] of ids.entries()) connection.message(id, i + 1);
    await waitFor(() => connection.ackedIds().length === 2500, "2500 acks");
    const frames = connection.ackFrames();
    expect(Math.max(...frames.map((frame) => frame.length))).toBeLessThanOrEqual(1000);
    expect(frames.length).toBeLessThan(100); // batched, not one frame per message
    expect(connection.ackedIds()).toEqual(ids);
    expect(handled).toBe(2500);
  });

  it("in manual mode acks only when asked, via message.ack() or client.ack(ids)", async () => {
    const server = await h.server();
    const { client } = h.client(server, { autoAck: false });
    const received: HeraldMessage[] = [];
    client.on("message", (message) => void received.push(message));
    await client.connect();
    const connection = await server.connection(1);
    connection.message("m1", 1);
    connection.message("m2", 2);
    await waitFor(() => received.length === 2, "two messages");
    await expectQuiet(() => connection.ackedIds().length > 0, "an automatic ack", 50);
    received[1]?.ack();
    received[1]?.ack(); // idempotent
    await connection.waitForAck("m2");
    client.ack("m1");
    await connection.waitForAck("m1");
    expect(connection.ackedIds()).toEqual(["m2", "m1"]);

    // An acked id that comes again (lost ack) is acked again without bothering the handler.
    connection.message("m2", 2);
    await connection.waitForAck("m2", 2);
    expect(received).toHaveLength(2);

    const many = Array.from({ length: 2500 }, (_, i) => `x${i}`);
    client.ack(many);
    await waitFor(() => connection.ackedIds().length === 3 + 2500, "the manual batch");
    expect(connection.ackFrames().slice(-3)).toEqual([
      many.slice(0, 1000),
      many.slice(1000, 2000),
      many.slice(2000),
    ]);
  });

  it("emits server error frames and bad frames as errors, and ignores unknown frame types", async () => {
    const server = await h.server();
    const { client, events } = h.client(server);
    const handled: string[] = [];
    client.on("message", (message) => void handled.push(message.id));
    await client.connect();
    const connection = await server.connection(1);
    connection.send({ type: "error", code: "unknown_id", message: "no such message", ids: ["zz"] });
    connection.sendRaw("not json");
    connection.send({ type: "message", id: "m0" }); // no seq, no ts
    connection.send({ type: "future-frame", anything: 1 });
    connection.message("m1", 1);
    await connection.waitForAck("m1");
    expect(handled).toEqual(["m1"]);
    expect(events.errors.map((error) => error.constructor)).toEqual([
      ServerError,
      ProtocolError,
      ProtocolError,
    ]);
    expect(events.errors[0]).toMatchObject({ serverCode: "unknown_id", ids: ["zz"] });
    expect(client.state).toBe("connected");
  });

  it("keeps going when a listener throws, reporting it as an error event", async () => {
    const server = await h.server();
    const { client, events } = h.client(server);
    client.on("connected", () => {
      throw new Error("listener bug");
    });
    await client.connect();
    await waitFor(() => events.errors.length === 1, "the listener error");
    expect(events.errors[0]).toMatchObject({ code: "listener", event: "connected" });
    expect(client.state).toBe("connected");
  });
});
