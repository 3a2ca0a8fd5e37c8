import { describe, expect, it } from "vitest";
import { ProtocolError } from "./errors.js";
import { useHarness } from "./test-support/harness.js";
import type { GapEvent } from "./types.js";

const h = useHarness();

describe("HeraldClient gap notices", () => {
  it("emits a gap frame as a `gap` event, before the message after it", async () => {
    const server = await h.server();
    const { client } = h.client(server);
    const seen: (GapEvent | string)[] = [];
    client.on("gap", (gap) => {
      seen.push(gap);
    });
    client.on("message", (message) => {
      seen.push(message.id);
    });
    await client.connect();
    const connection = await server.connection(1);
    connection.send({ type: "gap", after: 4, before: 9, reason: "retention" });
    connection.message("m9", 9);
    connection.send({ type: "gap", after: 9, reason: "retention" });
    connection.message("m12", 12);
    await connection.waitForAck("m12");
    expect(seen).toEqual([
      { after: 4, before: 9, reason: "retention" },
      "m9",
      { after: 9, reason: "retention" },
      "m12",
    ]);
  });

  it("reports a malformed gap frame as a protocol error, not an event", async () => {
    const server = await h.server();
    const { client, events } = h.client(server);
    const gaps: GapEvent[] = [];
    client.on("gap", (gap) => {
      gaps.push(gap);
    });
    client.on("message", () => {});
    await client.connect();
    const connection = await server.connection(1);
    connection.send({ type: "gap", after: "4", reason: "retention" });
    connection.send({ type: "gap", after: 4, before: null, reason: "retention" });
    connection.send({ type: "gap", after: 4 });
    connection.message("m1", 1);
    await connection.waitForAck("m1");
    expect(gaps).toEqual([]);
    expect(events.errors.map((error) => error.constructor)).toEqual([
      ProtocolError,
      ProtocolError,
      ProtocolError,
    ]);
  });
});
