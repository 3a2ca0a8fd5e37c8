import { jsonDeeperThan, MAX_JSON_DEPTH } from "./limits.js";
import { DeadReason, isMessageId, type JsonValue, messageIdSchema } from "./publish.js";

/**
 * What a user's mailbox holds, read back. A mailbox entry is stored by one of two writers: the mailbox stream
 * itself (a backend's publish to `<p>.send.user.<token>`, stored as sent, under `<p>.mbox.<token>`) or the
 * router (`<p>.send.users` fan-out, and intake left by an earlier release), which writes the same shape:
 * `{"data", "id"?}`. Entries of earlier releases (`{"id","data","ts"}`) read the same way; their `ts` is ignored.
 * The connector (live) and persistence (replay, cursors) both read entries here, so they agree on what is valid.
 */

/**
 * A valid entry, as a `message` frame shows it. `bare` when the body holds nothing but `data` and its own
 * `id` (if any), so a frame may be spliced from its text instead of serialising `data` again.
 */
export type MailboxMessage = {
  kind: "message";
  id: string;
  data: JsonValue;
  ts: number;
  bare: boolean;
  idInBody: boolean;
  /** The body as stored, decoded (so a reader that splices it into a frame does not decode it again). */
  text: string;
};
/** An entry that can never be delivered: dead-lettered when read, and skipped. */
export type InvalidEntry = { kind: "invalid"; reason: DeadReason; message: string };
export type MailboxRead = MailboxMessage | InvalidEntry;

/** One stored mailbox message, as NATS hands it over (a direct get, or a RePublish). */
export type StoredEntry = {
  payload: Uint8Array;
  /** Mailbox stream sequence. */
  seq: number;
  /** When the stream stored it (ms since the epoch). */
  storedAtMs: number;
  /** The `Nats-Msg-Id` header, if any. */
  msgId: string | undefined;
};

/** A stable id for a message stored without one: the same on every read. */
export function derivedId(streamSeq: number, timestampMs: number): string {
  return `${streamSeq.toString(36)}-${timestampMs.toString(36)}`;
}

const escapeNonAscii = (text: string) =>
  text.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

/** Quotes a value for a reason text: escaped, ASCII-only and short, so it is safe in a NATS header. */
export function quote(value: unknown): string {
  const text = typeof value === "string" ? value : (JSON.stringify(value) ?? String(value));
  const short = text.length > 80 ? `${text.slice(0, 80)}…` : text;
  return escapeNonAscii(JSON.stringify(short));
}

/**
 * A reason as a header value: printable ASCII only (a header cannot hold CR or LF, and parser messages quote
 * the payload), at most 512 characters.
 */
export function headerSafe(text: string): string {
  const safe = escapeNonAscii(text);
  return safe.length > 512 ? `${safe.slice(0, 509)}...` : safe;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** A publish body parsed as far as every send subject needs: a JSON object with `data`. */
export type BodyRead =
  | { kind: "body"; body: Record<string, unknown>; text: string }
  | { kind: "invalid"; reason: DeadReason; message: string };

/** Parses a publish body: UTF-8 JSON, an object, with `data`. Shared by the router and the mailbox reader. */
export function readBody(payload: Uint8Array): BodyRead {
  // Deeper data would overflow the stack wherever it is serialised again (a RangeError on every retry).
  if (jsonDeeperThan(payload, MAX_JSON_DEPTH)) {
    const message = `payload nests arrays or objects deeper than ${MAX_JSON_DEPTH} levels`;
    return { kind: "invalid", reason: DeadReason.TooDeep, message };
  }
  let body: unknown;
  let text: string;
  try {
    text = decoder.decode(payload);
    body = JSON.parse(text);
  } catch (err) {
    const message = headerSafe(`payload is not JSON: ${(err as Error).message}`);
    return { kind: "invalid", reason: DeadReason.InvalidJson, message };
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { kind: "invalid", reason: DeadReason.InvalidMessage, message: "payload must be a JSON object" };
  }
  if (!("data" in body) || body.data === undefined) {
    return { kind: "invalid", reason: DeadReason.MissingData, message: "payload has no 'data' field" };
  }
  return { kind: "body", body: body as Record<string, unknown>, text };
}

/**
 * Reads one mailbox entry: the id a client sees is the body's `id` ?? the `Nats-Msg-Id` header ?? one derived
 * from the stream sequence; `ts` is when the mailbox stored it.
 *
 * @example
 * readMailboxEntry({ payload: utf8('{"data":1}'), seq: 7, storedAtMs: 1700000000000, msgId: "k1" })
 * // { kind: "message", id: "k1", data: 1, ts: 1700000000000, bare: true, idInBody: false, text: '{"data":1}' }
 */
export function readMailboxEntry(stored: StoredEntry): MailboxRead {
  const read = readBody(stored.payload);
  if (read.kind === "invalid") return read;
  const body = read.body;
  const { id, data } = body;
  let keys = 0;
  for (const _ in body) keys++;
  const message = (shown: string, idInBody: boolean): MailboxMessage => ({
    kind: "message",
    id: shown,
    data: data as JsonValue,
    ts: stored.storedAtMs,
    bare: keys === (idInBody ? 2 : 1),
    idInBody,
    text: read.text,
  });
  if (id !== undefined) {
    if (isMessageId(id)) return message(id, true);
    const checked = messageIdSchema.safeParse(id);
    return invalid(`id: ${checked.error?.issues[0]?.message ?? "invalid"}`);
  }
  if (stored.msgId !== undefined) {
    if (!isMessageId(stored.msgId))
      return invalid(`Nats-Msg-Id ${quote(stored.msgId)} is not a valid message id`);
    return message(stored.msgId, false);
  }
  return message(derivedId(stored.seq, stored.storedAtMs), false);
}

function invalid(message: string): InvalidEntry {
  return { kind: "invalid", reason: DeadReason.InvalidMessage, message };
}
