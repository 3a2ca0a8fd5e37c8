import { describe, expect, it } from "vitest";
import { derivedId, readMailboxEntry, type StoredEntry } from "./mailbox.js";
import { DeadReason } from "./publish.js";

const at = 1_700_000_000_000;
const stored = (payload: string | Uint8Array, msgId?: string): StoredEntry => ({
  payload: typeof payload === "string" ? new TextEncoder().encode(payload) : payload,
  seq: 42,
  storedAtMs: at,
  msgId,
});

describe("readMailboxEntry", () => {
  it("takes the body id first, then Nats-Msg-Id, then one derived from the stream sequence", () => {
    expect(readMailboxEntry(stored('{"data":1,"id":"body"}', "header"))).toEqual({
      kind: "message",
      id: "body",
      data: 1,
      ts: at,
      bare: true,
      idInBody: true,
      text: '{"data":1,"id":"body"}',
    });
    expect(readMailboxEntry(stored('{"data":{"a":[1]}}', "header"))).toMatchObject({ id: "header" });
    const derived = readMailboxEntry(stored('{"data":null}'));
    expect(derived).toMatchObject({ kind: "message", id: derivedId(42, at), data: null, ts: at, bare: true });
  });

  it("reads the earlier router shape {id,data,ts} with the store time as ts", () => {
    expect(readMailboxEntry(stored('{"id":"old","data":"x","ts":5}'))).toEqual({
      kind: "message",
      id: "old",
      data: "x",
      ts: at,
      bare: false,
      idInBody: true,
      text: '{"id":"old","data":"x","ts":5}',
    });
  });

  it.each([
    ["{not json", DeadReason.InvalidJson],
    [new Uint8Array([0x7b, 0xff, 0x7d]), DeadReason.InvalidJson],
    ["[1]", DeadReason.InvalidMessage],
    ["null", DeadReason.InvalidMessage],
    ['{"id":"x"}', DeadReason.MissingData],
    ['{"data":1,"id":"has space"}', DeadReason.InvalidMessage],
    ['{"data":1,"id":7}', DeadReason.InvalidMessage],
  ])("names why %j can never be delivered", (payload, reason) => {
    const read = readMailboxEntry(stored(payload));
    expect(read).toMatchObject({ kind: "invalid", reason });
    if (read.kind === "invalid") expect(read.message).toMatch(/^[\x20-\x7e]+$/);
  });

  it("refuses a Nats-Msg-Id that cannot be a client id when the body has none", () => {
    expect(readMailboxEntry(stored('{"data":1}', "a b"))).toMatchObject({
      kind: "invalid",
      reason: DeadReason.InvalidMessage,
    });
  });
});
