import { headers, Match, type Msg, MsgImpl } from "@nats-io/transport-node";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { liveHeaders } from "./live-headers.js";

const encoder = new TextEncoder();

/** A message as the client's parser hands it over: the raw header block, then the payload. */
function rawMsg(block: string | undefined, payload = '{"data":1}'): Msg {
  const head = encoder.encode(block ?? "");
  const body = encoder.encode(payload);
  const data = new Uint8Array(head.length + body.length);
  data.set(head);
  data.set(body, head.length);
  const arg = {
    subject: encoder.encode("herald.live.u"),
    sid: 1,
    hdr: block === undefined ? -1 : head.length,
  };
  // The client's own message class (its `headers` may be undefined, which `Msg` does not declare).
  return new MsgImpl({ ...arg, size: data.length }, data, { publish: () => {} } as never) as unknown as Msg;
}

const NAMES = [
  "Nats-Sequence",
  "Nats-Last-Sequence",
  "Nats-Time-Stamp",
  "Nats-Msg-Id",
  "traceparent",
  "Other",
];

describe("liveHeaders", () => {
  it("reads a RePublish header block as the client's own decoder does", () => {
    const block =
      "NATS/1.0\r\nNats-Stream: MBOX\r\nNats-Subject: herald.mbox.dTE\r\nNats-Sequence: 42\r\n" +
      "Nats-Time-Stamp: 2026-12-06T02:10:00.123456789Z\r\nNats-Last-Sequence: 7\r\nNats-Msg-Id: m1/u1\r\n\r\n";
    const msg = rawMsg(block);
    const fast = liveHeaders(msg);
    for (const name of NAMES) expect(fast?.get(name)).toBe(msg.headers?.get(name));
    expect(fast?.get("Nats-Sequence")).toBe("42");
  });

  it("gives the first of repeated headers, trims values, skips the status line and lines with no colon", () => {
    const block =
      "NATS/1.0 100 Idle\r\nNats-Sequence:  5 \r\nNats-Sequence: 6\r\njunk\r\nnats-msg-id: lower\r\n\r\n";
    const msg = rawMsg(block);
    const fast = liveHeaders(msg);
    for (const name of [...NAMES, "nats-msg-id"]) expect(fast?.get(name)).toBe(msg.headers?.get(name));
    expect(fast?.get("Nats-Sequence")).toBe("5");
    expect(fast?.get("Nats-Msg-Id")).toBe("");
  });

  it("agrees with the client's decoder on any well-formed block", () => {
    const name = fc.constantFrom(...NAMES, "X-A", "__proto__", "Traceparent", "TRACEPARENT", "x-a");
    const value = fc.stringMatching(/^[ -~]{0,30}$/);
    fc.assert(
      fc.property(fc.array(fc.tuple(name, value), { maxLength: 8 }), (pairs) => {
        const h = headers();
        for (const [k, v] of pairs) h.append(k, v);
        const msg = rawMsg(h.toString() || "NATS/1.0\r\n\r\n");
        const fast = liveHeaders(msg);
        for (const k of [...NAMES, "X-A", "__proto__"]) expect(fast?.get(k)).toBe(msg.headers?.get(k) ?? "");
        for (const k of ["traceparent", "nats-sequence", "x-a"])
          expect(fast?.getIgnoreCase(k)).toBe(msg.headers?.get(k, Match.IgnoreCase) ?? "");
      }),
      { numRuns: 2_000 },
    );
  });

  it("reads long values whole where the block holds UTF-8 past ASCII", () => {
    const id = "m-\u00e9t\u00e9-2026-12-08-0001";
    const block = `NATS/1.0\r\nX-Note: caf\u00e9 au lait \u2615\r\nNats-Msg-Id:  ${id} \r\nNats-Sequence: 1234567890123\r\n\r\n`;
    const msg = rawMsg(block);
    const fast = liveHeaders(msg);
    for (const name of ["X-Note", "Nats-Msg-Id", "Nats-Sequence"])
      expect(fast?.get(name)).toBe(msg.headers?.get(name));
    expect(fast?.get("Nats-Msg-Id")).toBe(id);
    expect(fast?.getIgnoreCase("nats-sequence")).toBe("1234567890123");
  });

  it("is undefined for a message without headers, and falls back to msg.headers for other Msg objects", () => {
    expect(liveHeaders(rawMsg(undefined))).toBeUndefined();
    const h = headers();
    h.set("Nats-Sequence", "9");
    const plain = { headers: h } as unknown as Msg;
    expect(liveHeaders(plain)?.get("Nats-Sequence")).toBe("9");
    h.set("TraceParent", "00-x");
    expect(liveHeaders(plain)?.getIgnoreCase("traceparent")).toBe("00-x");
  });
});
