import { hostname } from "node:os";
import { DEFAULT_MAX_MESSAGE_BYTES } from "@herald/protocol";
import { baseEnvSchema, duration, parseEnv, positiveInt } from "@herald/service-kit";
import { z } from "zod";
import { checkHttpPublishEnv, httpPublishEnv } from "./http-publish/config.js";

export const envSchema = baseEnvSchema.extend({
  /** Messages each pull asks for: what a killed replica strands until `ROUTER_ACK_WAIT` expires. */
  ROUTER_PREFETCH: positiveInt(256),
  /**
   * How long an intake message may stay unacked before JetStream hands it to another replica: what a killed
   * replica's messages wait before its successor routes them. Messages a live replica holds are kept alive
   * (`working()`), so a short one causes no redelivery under load.
   */
  ROUTER_ACK_WAIT: duration("2s").refine((ms) => ms >= 1_000, "ROUTER_ACK_WAIT must be at least 1s"),
  /** Intake messages one lane routes at once (their mailbox writes are pipelined). */
  ROUTER_MAX_INFLIGHT: positiveInt(256),
  /** Delivered but unacked intake messages of one lane across all replicas (its consumer's `max_ack_pending`). */
  ROUTER_MAX_ACK_PENDING: positiveInt(1_024),
  /**
   * Each lane of the intake is routed by one replica at a time, so a channel's or a key's messages keep their
   * order. Another replica takes a lane over when its holder has not renewed the lease for this long.
   */
  ROUTER_LEASE_TTL: duration("1500ms").refine((ms) => ms >= 1_000, "ROUTER_LEASE_TTL must be at least 1s"),
  ROUTER_REPLICA_ID: z
    .string()
    .min(1)
    .default(() => `${hostname()}-${process.pid}-${Date.now().toString(36)}`),
  /** Largest publish routed; bigger ones are dead-lettered as `too_large`. */
  HERALD_MAX_MESSAGE_BYTES: positiveInt(DEFAULT_MAX_MESSAGE_BYTES),
  ...httpPublishEnv,
});
export type Config = z.infer<typeof envSchema>;

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  return parseEnv(envSchema.superRefine(checkHttpPublishEnv), env);
}
