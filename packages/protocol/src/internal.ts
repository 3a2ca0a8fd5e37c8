import { z } from "zod";
import { parsedJson } from "./publish.js";

/**
 * Messages between Herald's own services. Not part of the public contract, but still defined once here so
 * both ends agree.
 */

/** One acked message as the connector knows it: its mailbox sequence and the user's previous one. */
export const ackedMessageSchema = z.object({
  id: z.string(),
  seq: z.number().int().positive(),
  prev: z.number().int().nonnegative(),
  /** The connector's ack span (a W3C `traceparent`), while tracing is on: persistence continues the trace. */
  trace: z.string().max(256).optional(),
});
export type AckedMessage = z.infer<typeof ackedMessageSchema>;

/** One device's acks. */
export const ackBatchSchema = z.object({
  userId: z.string(),
  deviceId: z.string(),
  acks: z.array(ackedMessageSchema).min(1),
  at: z.number(),
});
export type AckBatch = z.infer<typeof ackBatchSchema>;

/**
 * Connector → persistence on `<p>.ack.<connectorId>` (a JetStream work queue): the acks of many devices,
 * gathered for a few milliseconds, so one durable write carries many acks.
 */
export const ackBundleSchema = z.object({ batches: z.array(ackBatchSchema).min(1) });
export type AckBundle = z.infer<typeof ackBundleSchema>;

/**
 * A device's position in its user's mailbox: every message up to `floor` is acked, and so are the ones in
 * `above` (pairs of `[seq, prev]`). Stored in the cursor bucket and written with compare-and-set.
 */
export const cursorStateSchema = z.object({
  floor: z.number().int().nonnegative(),
  above: z.array(z.tuple([z.number().int().positive(), z.number().int().nonnegative()])),
  updatedAt: z.number(),
});
export type CursorState = z.infer<typeof cursorStateSchema>;

/** How much one replay page may hold (persistence stops at whichever comes first). */
const pageLimits = {
  limit: z.number().int().positive().max(10_000).default(500),
  maxBytes: z
    .number()
    .int()
    .positive()
    .default(512 * 1024),
};

/** Connector → persistence on `<p>.api.replay`: what this device has not acked after `after`. */
export const replayRequestSchema = z.object({
  userId: z.string(),
  deviceId: z.string(),
  /** Scan position; omitted on connect, meaning "from the device's cursor". */
  after: z.number().int().nonnegative().optional(),
  ...pageLimits,
});
export type ReplayRequest = z.input<typeof replayRequestSchema>;

/**
 * The replay APIs' pacing, shared by both ends. A page takes milliseconds: an asker with no reply after
 * `retryAfterMs` sends the request again (the first most likely went to a replica or NATS node as it died),
 * and persistence drops a request that waited in its queue longer than that, since its asker has re-sent it.
 * An asker has at most `inFlight` requests out at once, so a storm of reconnecting sessions queues at the
 * connector rather than timing out at persistence; persistence works on `concurrency` pages at once.
 */
export const REPLAY_PACING = {
  timeoutMs: 10_000,
  retryAfterMs: 1_500,
  inFlight: 32,
  concurrency: 64,
} as const;

export const replayMessageSchema = z.object({
  id: z.string(),
  seq: z.number(),
  prev: z.number(),
  data: parsedJson,
  ts: z.number(),
  /** The stored message's `traceparent` (the router's write span), while persistence traces. */
  trace: z.string().max(256).optional(),
});
export type ReplayMessage = z.infer<typeof replayMessageSchema>;

export const replayReplySchema = z.object({
  messages: z.array(replayMessageSchema),
  /** Every message of this user up to here was scanned (delivered above, already acked, or gone). */
  scannedTo: z.number(),
  /** True when the scan reached the end of the mailbox. */
  done: z.boolean(),
  /** On a connect's first page: this device's unacked messages in (after, before) were removed by retention. */
  gap: z.object({ after: z.number(), before: z.number().optional() }).optional(),
});
export type ReplayReply = z.infer<typeof replayReplySchema>;

/**
 * Backends or presence → every connector on `<p>.control.disconnect` (core NATS): close the matching
 * connections (a user's, one device's, or one connection) with `code` and `reason`, which reach the client.
 */
export const disconnectCommandSchema = z
  .object({
    userId: z.string().min(1).optional(),
    deviceId: z.string().min(1).optional(),
    connectionId: z.string().min(1).optional(),
    code: z.union([z.literal(4010), z.literal(4011), z.literal(4012)]).default(4011),
    /** Up to 120 characters; the connector cuts it to 123 UTF-8 bytes (`closeReason`), what a close frame holds. */
    reason: z.string().max(120).default("disconnected by the server"),
  })
  .refine(
    (c) => c.userId !== undefined || c.connectionId !== undefined,
    "userId or connectionId is required",
  );
export type DisconnectCommand = z.input<typeof disconnectCommandSchema>;

/** Connector → persistence on `<p>.api.channel.replay`: channel messages after `since` (or just the tail). */
export const channelReplayRequestSchema = z.object({
  channel: z.string(),
  /** Offset after which to read; omitted: no messages, only the current end (`scannedTo`). */
  since: z.number().int().nonnegative().optional(),
  ...pageLimits,
});
export type ChannelReplayRequest = z.input<typeof channelReplayRequestSchema>;

export const channelReplayReplySchema = z.object({
  messages: z.array(
    z.object({ id: z.string(), offset: z.number(), prev: z.number(), data: parsedJson, ts: z.number() }),
  ),
  scannedTo: z.number(),
  done: z.boolean(),
  /** False when messages after `since` may have been dropped by retention. */
  recovered: z.boolean(),
});
export type ChannelReplayReply = z.infer<typeof channelReplayReplySchema>;

/** One connection as a connector reports it to presence. */
export const connectionInfoSchema = z.object({
  connectionId: z.string(),
  userId: z.string(),
  deviceId: z.string(),
  since: z.number(),
});
export type ConnectionInfo = z.infer<typeof connectionInfoSchema>;

/**
 * Fields every report may carry so presence can tell a restarted connector apart (`bootId`, new per process)
 * and notice lost core messages (`seq`, +1 per report of one boot, starting anywhere). Both optional: without
 * them presence still converges on the next heartbeat.
 */
const reportBase = {
  connectorId: z.string().min(1),
  bootId: z.string().min(1).optional(),
  seq: z.number().int().nonnegative().optional(),
};

/**
 * Connector → presence on `<p>.presence.report.<connectorId>` (core NATS). Every report of one connector goes
 * on that one subject from one connection, so they arrive in order.
 * - `open` / `close`: one connection.
 * - `beat`: every `intervalMs`, the connector's liveness and a digest of the set of connections it holds
 *   (`count` and `hash`, see `ConnectionSetDigest`): a few dozen bytes whatever the count. Presence compares it
 *   with the digest of what it applied and, when they differ (a lost report, a restart on either side), asks
 *   that connector alone for a full heartbeat with a sync.
 * - `heartbeat`: the FULL list of connections the connector holds; it replaces what presence knew of that
 *   connector. Sent in answer to a sync (and, by connectors of the previous release, every interval). A list
 *   too large for one NATS message (max_payload, 1 MiB by default) is sent as `parts` consecutive heartbeats
 *   numbered `part` 0..parts-1, published back to back (no other report of that connector in between);
 *   presence applies it when the last part arrives.
 * - `shutdown`: the connector is draining; presence forgets its connections at once.
 */
export const presenceReportSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("open"), ...reportBase, connection: connectionInfoSchema }),
  z.object({ type: z.literal("close"), ...reportBase, connection: connectionInfoSchema }),
  z.object({
    type: z.literal("beat"),
    ...reportBase,
    intervalMs: z.number().int().positive(),
    count: z.number().int().nonnegative(),
    /** XOR of the connections' 64-bit hashes, 16 lowercase hex digits. */
    hash: z.string().regex(/^[0-9a-f]{16}$/),
  }),
  z.object({
    type: z.literal("heartbeat"),
    ...reportBase,
    connections: z.array(connectionInfoSchema),
    intervalMs: z.number().int().positive(),
    part: z.number().int().nonnegative().optional(),
    parts: z.number().int().positive().optional(),
  }),
  z.object({ type: z.literal("shutdown"), ...reportBase }),
]);
export type PresenceReport = z.infer<typeof presenceReportSchema>;

/**
 * Presence → connectors on `<p>.presence.sync` (core NATS, no reply expected): every connector (or only the
 * one named by `connectorId`) answers by publishing a full heartbeat on its report subject right away. Sent by
 * a presence replica that starts or reconnects, when it notices a gap in a connector's `seq`, and when a
 * connector's beat does not match what it holds.
 *
 * `beats: true` says the asking replica understands `beat` reports. A request without it comes from a replica
 * of the previous release, which needs a full heartbeat every interval: the connector sends those instead of
 * beats for `LEGACY_PRESENCE_HOLD_MS` after it (compatibility for one release, during a rolling upgrade).
 */
export const presenceSyncSchema = z.object({
  replicaId: z.string(),
  connectorId: z.string().optional(),
  beats: z.boolean().optional(),
});
export type PresenceSync = z.infer<typeof presenceSyncSchema>;

/**
 * How long a connector keeps sending full heartbeats after a sync request from a presence replica of the
 * previous release (no `beats`): long enough to outlast a rolling upgrade, after which beats resume.
 */
export const LEGACY_PRESENCE_HOLD_MS = 10 * 60_000;
