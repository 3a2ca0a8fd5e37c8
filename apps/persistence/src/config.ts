import { DEFAULT_MAX_MESSAGE_BYTES } from "@herald/protocol";
import { baseEnvSchema, duration, parseEnv, positiveInt } from "@herald/service-kit";
import type { z } from "zod";

export const envSchema = baseEnvSchema.extend({
  /** How long an unacked user message is kept (contract: default 7 days). */
  HERALD_RETENTION: duration("7d"),
  /** Most messages kept per user; the oldest go first beyond it. */
  HERALD_MAX_BACKLOG: positiveInt(10_000),
  /** Window in which a repeated idempotency key is recognised. */
  HERALD_DEDUP_WINDOW: duration("2m"),
  /** Acks pulled at once from the ack stream; what a killed replica strands until ack_wait. */
  PERSISTENCE_ACK_PREFETCH: positiveInt(512),
  PERSISTENCE_ACK_WAIT: duration("30s"),
  /** Largest publish the mailbox stream stores (`max_msg_size`); larger ones are refused at publish. */
  HERALD_MAX_MESSAGE_BYTES: positiveInt(DEFAULT_MAX_MESSAGE_BYTES),
});
export type Config = z.infer<typeof envSchema>;

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  return parseEnv(envSchema, env);
}
