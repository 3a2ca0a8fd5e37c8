import { z } from "zod";
import { ErrorCode } from "./errors.js";

/** Default largest publish accepted (`HERALD_MAX_MESSAGE_BYTES`). */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024;

const MAX_ID_LENGTH = 256;
const PRINTABLE = /^[\x21-\x7e]+$/;

/** Idempotency keys travel in frames and dedup ids: keep them short and printable. */
export const messageIdSchema = z
  .string()
  .min(1)
  .max(MAX_ID_LENGTH)
  .regex(PRINTABLE, "id must be printable ASCII without spaces");

/** `messageIdSchema` as a plain check, for paths that run per delivered message. */
export function isMessageId(value: unknown): value is string {
  return typeof value === "string" && value.length <= MAX_ID_LENGTH && PRINTABLE.test(value);
}

/** Any JSON value. */
export type JsonValue = z.infer<ReturnType<typeof z.json>>;

/**
 * A JSON value in a message that arrived as JSON text. Whatever `JSON.parse` returns is JSON already, so only
 * its presence is checked: `z.json()` would walk every nested value through a union again, which allocated
 * ~5 kB per routed message (a quarter of the router's allocations, from a sampling heap profile in the bench).
 */
export const parsedJson = z.custom<JsonValue>((value) => value !== undefined, "a JSON value is required");

/** `<p>.send.user.<userToken>`, `<p>.send.channel.<channel>`, `<p>.send.broadcast`. */
export const sendBodySchema = z.object({ data: parsedJson, id: messageIdSchema.optional() });
export type SendBody = z.infer<typeof sendBodySchema>;

/** `<p>.send.users`. User ids are checked one by one so the reason can name the bad one. */
export const sendUsersBodySchema = z.object({
  userIds: z.array(z.string()).min(1).max(10_000),
  data: parsedJson,
  id: messageIdSchema.optional(),
});
export type SendUsersBody = z.infer<typeof sendUsersBodySchema>;

/** One entry of a channel stream (the router writes `{"id","data","ts"}`); user mailboxes: `mailbox.ts`. */
export const mailboxEntrySchema = z.object({ id: z.string(), data: parsedJson, ts: z.number() });
export type MailboxEntry = z.infer<typeof mailboxEntrySchema>;

/** Headers Herald reads or writes on NATS messages. */
export const Header = {
  MsgId: "Nats-Msg-Id",
  DeadReason: "Herald-Dead-Reason",
  DeadSubject: "Herald-Original-Subject",
  /** On a dead letter whose payload had to be cut to fit `max_payload`: the original length in bytes. */
  DeadTruncated: "Herald-Original-Length",
  StreamSequence: "Nats-Sequence",
  LastSequence: "Nats-Last-Sequence",
  /** RePublish: when the stream stored the message (RFC 3339). */
  Timestamp: "Nats-Time-Stamp",
} as const;

/** Reasons on `<p>.dead.<reason>`. */
export const DeadReason = {
  // A reason that is also an error (the HTTP API refuses with it) is that error's code.
  InvalidJson: ErrorCode.InvalidJson,
  InvalidMessage: ErrorCode.InvalidMessage,
  MissingData: ErrorCode.MissingData,
  InvalidUserId: ErrorCode.InvalidUserId,
  InvalidChannel: ErrorCode.InvalidChannel,
  TooLarge: ErrorCode.TooLarge,
  /** Nested deeper than `MAX_JSON_DEPTH`. */
  TooDeep: ErrorCode.TooDeep,
  UnknownSubject: "unknown_subject",
  /** A `send.users` recipient's mailbox holds `HERALD_MAX_BACKLOG` messages: that copy was refused. */
  MailboxFull: ErrorCode.MailboxFull,
} as const;
export type DeadReason = (typeof DeadReason)[keyof typeof DeadReason];
