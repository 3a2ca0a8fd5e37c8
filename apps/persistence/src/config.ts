import { DEFAULT_MAX_MESSAGE_BYTES } from "@herald/protocol";
import { baseEnvSchema, byteSize, duration, parseEnv, positiveInt } from "@herald/service-kit";
import { z } from "zod";

export const envSchema = baseEnvSchema
  .extend({
    /** How long a user message is kept (contract: default 7 days); devices that lose unacked ones are told. */
    HERALD_RETENTION: duration("7d"),
    /** Most messages a user's mailbox holds (acked or not); beyond it a new one is refused, none dropped. */
    HERALD_MAX_BACKLOG: positiveInt(10_000),
    /** Window in which a repeated idempotency key is recognised. */
    HERALD_DEDUP_WINDOW: duration("2m"),
    /** Acks pulled at once from the ack stream; what a killed replica strands until ack_wait. */
    PERSISTENCE_ACK_PREFETCH: positiveInt(512),
    PERSISTENCE_ACK_WAIT: duration("30s"),
    /**
     * How long a device's acks gather before its cursor is written (one compare-and-set for all of them). Receipts
     * do not wait for it; `cursor.get` may lag an ack by this much. 0 writes each round (every 20 ms).
     */
    PERSISTENCE_CURSOR_DELAY: duration("500ms"),
    /**
     * Disk each stream may fill (`max_bytes`). Full intake, mailbox, ack and channel streams refuse new writes
     * (discard new) rather than drop what they accepted; the dead-letter stream drops its oldest letters. The
     * defaults add up to about 4.5 GiB per replica, below a nats-server's 8 GB `max_file_store` as in k8s/.
     */
    HERALD_INTAKE_MAX_BYTES: byteSize("512MiB"),
    HERALD_MAILBOX_MAX_BYTES: byteSize("2GiB"),
    HERALD_ACKS_MAX_BYTES: byteSize("256MiB"),
    /** Per channel retention group (each `HERALD_CHANNEL_RETENTION` rule, and broadcasts). */
    HERALD_CHANNEL_MAX_BYTES: byteSize("256MiB"),
    HERALD_DEAD_MAX_BYTES: byteSize("1GiB"),
    /** The cursor bucket. */
    HERALD_CURSORS_MAX_BYTES: byteSize("256MiB"),
    /**
     * Partitions of the intake (`send.channel.<ch>` and `send.users.<key>` by a hash of the name): how many
     * router replicas can route at once. Changed only while the partitions are empty (see docs/architecture.md).
     */
    HERALD_ROUTE_PARTITIONS: z.coerce.number().int().min(1).max(256).default(8),
    /** Largest publish the mailbox stream stores (`max_msg_size`); larger ones are refused at publish. */
    HERALD_MAX_MESSAGE_BYTES: positiveInt(DEFAULT_MAX_MESSAGE_BYTES),
  })
  // A bundle held past ack_wait would come back while its cursors are still waiting.
  .refine((env) => env.PERSISTENCE_CURSOR_DELAY * 4 <= env.PERSISTENCE_ACK_WAIT, {
    message: "PERSISTENCE_CURSOR_DELAY must be at most a quarter of PERSISTENCE_ACK_WAIT",
    path: ["PERSISTENCE_CURSOR_DELAY"],
  });
export type Config = z.infer<typeof envSchema>;

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  return parseEnv(envSchema, env);
}
