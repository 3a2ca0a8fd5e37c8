import { z } from "zod";
import { messageIdSchema } from "./publish.js";

/** Close codes sent to WebSocket clients (4000-4999 are application codes). */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  MessageTooBig: 1009,
  Unauthorized: 4001,
  TokenExpired: 4003,
  HandshakeTimeout: 4004,
  SlowConsumer: 4008,
  PolicyViolation: 4009,
  /** Disconnected by the server side for good (e.g. a banned user): the SDK does not reconnect. */
  Banned: 4010,
  /** Disconnected by the server side; reconnecting is allowed. */
  Kicked: 4011,
  /** Over the per-user connection limit; the SDK does not reconnect. */
  ConnectionLimit: 4012,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

// ---- server to client --------------------------------------------------------------------------------------

export type WelcomeFrame = { type: "welcome"; userId: string; deviceId: string; connectionId: string };
export type UserMessageFrame = { type: "message"; id: string; seq: number; data: unknown; ts: number };
export type ChannelMessageFrame = {
  type: "message";
  id: string;
  channel: string;
  offset: number;
  data: unknown;
  ts: number;
};
export type SubscribedFrame = { type: "subscribed"; channel: string; recovered: boolean };
/**
 * The server ended a channel subscription the client did not give up, e.g. because a refreshed token no longer
 * allows the channel (`code` is then `forbidden`). The client should not resubscribe without a new grant.
 */
export type UnsubscribedFrame = { type: "unsubscribed"; channel: string; code: string; message: string };
export type ErrorFrame = { type: "error"; code: string; message: string; ids?: string[] };
/**
 * Messages of this user after `seq` `after` (and before `before`, when given) were removed by retention
 * before this device acked them. Which ones and how many is not known: sequences are shared by all users. Sent
 * once, before the first message after the gap.
 */
export type GapFrame = { type: "gap"; after: number; before?: number; reason: GapReason };
/** Why messages were lost: `retention` (`HERALD_RETENTION` passed before the device acked them). */
export type GapReason = "retention";
export type ServerFrame =
  | WelcomeFrame
  | UserMessageFrame
  | ChannelMessageFrame
  | SubscribedFrame
  | UnsubscribedFrame
  | GapFrame
  | ErrorFrame;

// ---- client to server --------------------------------------------------------------------------------------

/** Most ids one `ack` frame may carry. */
export const MAX_ACK_IDS = 1000;

export const clientFrameSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("ack"), ids: z.array(messageIdSchema).min(1).max(MAX_ACK_IDS) }),
  z.object({ type: z.literal("auth"), token: z.string().min(1).max(16_384) }),
  z.object({ type: z.literal("refresh"), token: z.string().min(1).max(16_384) }),
  z.object({
    type: z.literal("subscribe"),
    channel: z.string().min(1).max(256),
    since: z.number().int().nonnegative().optional(),
    token: z.string().max(16_384).optional(),
  }),
  z.object({ type: z.literal("unsubscribe"), channel: z.string().min(1).max(256) }),
]);
export type ClientFrame = z.infer<typeof clientFrameSchema>;
export type AckFrame = Extract<ClientFrame, { type: "ack" }>;

export const CLIENT_FRAME_TYPES = ["ack", "auth", "refresh", "subscribe", "unsubscribe"] as const;
