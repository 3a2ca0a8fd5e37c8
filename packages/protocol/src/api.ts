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

export type Receipt = { id: string; userId: string; deviceId: string; seq: number; ackedAt: number };

/** What every API answers when the request is not valid. */
export type ApiErrorReply = { error: { code: string; message: string } };

export function isApiError(value: unknown): value is ApiErrorReply {
  return typeof value === "object" && value !== null && "error" in value;
}
