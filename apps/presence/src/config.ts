import { baseEnvSchema, duration, parseEnv } from "@herald/service-kit";
import { z } from "zod";

export const envSchema = baseEnvSchema
  .extend({
    /**
     * A connector without any report for this long is dead: its connections go. The contract says "noticed
     * within 10 s" of the death: the expiry comes up to one housekeeping tick (250 ms) after this timeout,
     * counted from the last report (before the death), plus any delay of a busy event loop; 8 s keeps a
     * margin for that, and a live connector (3 s heartbeats) must miss two in a row to be taken for dead.
     */
    PRESENCE_CONNECTOR_TIMEOUT: duration("8s"),
    /**
     * After asking connectors for a full heartbeat (`<p>.presence.sync`), how long a starting or reconnected
     * replica collects before it answers queries and may emit events. One connector heartbeat interval (3 s)
     * plus a margin, so connectors that predate the sync subject are counted too.
     */
    PRESENCE_SYNC_WAIT: duration("3500ms"),
    /** The event emitter's lease: a holder silent this long is replaced (bounds the failover gap). */
    PRESENCE_LEASE_TTL: duration("3s"),
    /** How often the holder renews the lease and the others check it. Must be below the TTL. */
    PRESENCE_LEASE_RENEW: duration("1s"),
    /**
     * Connections one user may hold across all connectors; 0 = unlimited. Past it, the emitter replica tells
     * the connectors to close a connection with 4012 (the SDK does not reconnect after it).
     */
    PRESENCE_MAX_CONNECTIONS_PER_USER: z.coerce.number().int().nonnegative().default(0),
    /** Which connection goes when a user is over the limit: the oldest one, or the one that just opened. */
    PRESENCE_CONNECTION_LIMIT_POLICY: z.enum(["close-oldest", "refuse-newest"]).default("close-oldest"),
    /** This replica's id in the lease bucket and sync requests; default: hostname + random suffix. */
    PRESENCE_REPLICA_ID: z
      .string()
      .regex(/^[\w.-]{1,128}$/)
      .optional(),
  })
  .refine((env) => env.PRESENCE_LEASE_RENEW < env.PRESENCE_LEASE_TTL, {
    message: "PRESENCE_LEASE_RENEW must be shorter than PRESENCE_LEASE_TTL",
    path: ["PRESENCE_LEASE_RENEW"],
  });
export type Config = z.infer<typeof envSchema>;

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  return parseEnv(envSchema, env);
}
