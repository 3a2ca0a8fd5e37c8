import { DEFAULT_MAX_MESSAGE_BYTES } from "@herald/protocol";
import { baseEnvSchema, duration, parseEnv, positiveInt } from "@herald/service-kit";
import type { z } from "zod";

export const envSchema = baseEnvSchema.extend({
  /** Messages each pull asks for: what a killed replica strands until `ROUTER_ACK_WAIT` expires. */
  ROUTER_PREFETCH: positiveInt(64),
  /** How long an intake message may stay unacked before JetStream hands it to another replica. */
  ROUTER_ACK_WAIT: duration("30s").refine((ms) => ms >= 1_000, "ROUTER_ACK_WAIT must be at least 1s"),
  /** Intake messages one replica routes at once (their mailbox writes are pipelined). */
  ROUTER_MAX_INFLIGHT: positiveInt(256),
  /** Delivered but unacked intake messages across all replicas (the shared consumer's `max_ack_pending`). */
  ROUTER_MAX_ACK_PENDING: positiveInt(1_024),
  /** Largest publish routed; bigger ones are dead-lettered as `too_large`. */
  HERALD_MAX_MESSAGE_BYTES: positiveInt(DEFAULT_MAX_MESSAGE_BYTES),
});
export type Config = z.infer<typeof envSchema>;

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  return parseEnv(envSchema, env);
}
