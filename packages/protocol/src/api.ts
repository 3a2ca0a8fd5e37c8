import { z } from "zod";

/** Public request/reply APIs over NATS (contract section 4). */

export const userQuerySchema = z.object({ userId: z.string() });

export type CursorReply = {
  userId: string;
  devices: { deviceId: string; ackedSeq: number; pending: number }[];
};

export type PresenceConnection = {
  connectionId: string;
  deviceId: string;
  connectorId: string;
  since: number;
};
export type PresenceReply = { userId: string; online: boolean; connections: PresenceConnection[] };
/** `<p>.api.presence.get` with `{userIds}` (at most `MAX_PRESENCE_BATCH`) answers one entry per id, in order. */
export const MAX_PRESENCE_BATCH = 1000;
export type PresenceBatchReply = { users: PresenceReply[] };
/** `<p>.api.presence.count`. */
export type PresenceCountReply = {
  users: number;
  connections: number;
  connectors: Record<string, { connections: number }>;
};
export type PresenceEvent = { type: "online" | "offline"; userId: string; at: number };

/** On `<p>.receipt.<userToken>`: a device acked a message (`type` is new; receipts without one are acks). */
export type AckReceipt = {
  type: "acked";
  id: string;
  userId: string;
  deviceId: string;
  seq: number;
  ackedAt: number;
};
/**
 * On `<p>.receipt.<userToken>`: messages that will not reach the user's devices. `mailbox_full`: the message
 * `id` was refused for this user (a `send.users` copy; a single-user publish is refused at its PubAck instead).
 * `retention`: one device's messages after `after` (before `before`) expired unacked; ids and count unknown.
 */
export type ExpiredReceipt =
  | { type: "expired"; reason: "mailbox_full"; id: string; userId: string; at: number }
  | {
      type: "expired";
      reason: "retention";
      userId: string;
      deviceId: string;
      after: number;
      before?: number;
      at: number;
    };
export type Receipt = AckReceipt | ExpiredReceipt;

/** What every API answers when the request is not valid. */
export type ApiErrorReply = { error: { code: string; message: string } };

export function isApiError(value: unknown): value is ApiErrorReply {
  return typeof value === "object" && value !== null && "error" in value;
}
