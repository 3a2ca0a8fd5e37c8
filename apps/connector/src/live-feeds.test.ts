import { headers, type Msg } from "@nats-io/transport-node";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { messageFrame, parseUserLive, spliceableEntry } from "./live-feeds.js";

describe("spliceableEntry", () => {
  it("finds the id and store time of every entry the router writes, and splicing gives the same frame as serialising", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.jsonValue(),
        fc.nat(),
        fc.nat(),
        (id, data, ts, seq) => {
          const text = JSON.stringify({ id, data, ts });
          const found = spliceableEntry(text);
          expect(found?.id).toBe(id);
          expect(found?.ts).toBe(ts);
          const spliced = `{"type":"message","seq":${seq},${text.slice(1)}`;
          expect(JSON.parse(spliced)).toEqual(JSON.parse(messageFrame(id, seq, JSON.parse(text).data, ts)));
        },
      ),
      { numRuns: 5_000 },
    );
  });

  it.each([
    '{"data":1,"id":"a","ts":1}',
    '{"id":"a","data":1}',
    '{"id":"a","ts":1,"data":2}',
    "[]",
    '{"id":"a',
  ])("leaves %s to the slow path", (text) => {
    expect(spliceableEntry(text)).toBeUndefined();
  });
});

describe("parseUserLive", () => {
  const live = (payload: string, set: Record<string, string>): Msg => {
    const h = headers();
    for (const [k, v] of Object.entries(set)) h.set(k, v);
    const data = new TextEncoder().encode(payload);
    return { subject: "herald.live.u", data, headers: h, string: () => payload } as unknown as Msg;
  };
  const stored = "2026-12-05T21:00:00.123456789Z";
  const position = { "Nats-Sequence": "9", "Nats-Last-Sequence": "4", "Nats-Time-Stamp": stored };

  it("reads a backend's own body: id from the body, else Nats-Msg-Id; ts from the store time", () => {
    const withBodyId = parseUserLive(live('{"data":{"a":1},"id":"b1"}', { ...position, "Nats-Msg-Id": "k" }));
    expect(withBodyId).toMatchObject({ id: "b1", seq: 9, prev: 4, ts: Date.parse(stored) });
    expect(JSON.parse(String(withBodyId?.frame))).toEqual({
      type: "message",
      id: "b1",
      seq: 9,
      data: { a: 1 },
      ts: Date.parse(stored),
    });
    expect(parseUserLive(live('{"data":2}', { ...position, "Nats-Msg-Id": "k" }))?.id).toBe("k");
  });

  it("splices a bare body into the frame and serialises any other, with the same result", () => {
    const bodies = ['{"data":{"x":[1,"y"]}}', '{"id":"i1","data":null}', '{"data":1,"ts":5,"extra":true}'];
    for (const body of bodies) {
      for (const msgId of [undefined, "h1"]) {
        const set = msgId ? { ...position, "Nats-Msg-Id": msgId } : position;
        const delivery = parseUserLive(live(body, set));
        const parsed = JSON.parse(body) as { data: unknown; id?: string };
        const id = parsed.id ?? msgId ?? delivery?.id;
        expect(JSON.parse(String(delivery?.frame)), body).toEqual(
          JSON.parse(messageFrame(id!, 9, parsed.data, Date.parse(stored))),
        );
      }
    }
  });

  it("finds nothing to deliver in an invalid entry or without the sequence headers", () => {
    expect(parseUserLive(live("{nope", position))).toBeUndefined();
    expect(parseUserLive(live('{"id":"x"}', position))).toBeUndefined();
    expect(parseUserLive(live('{"data":1}', {}))).toBeUndefined();
  });
});
