import { hostname } from "node:os";
import { baseEnvSchema, duration, parseEnv, port, positiveInt } from "@herald/service-kit";
import { z } from "zod";

export const envSchema = baseEnvSchema
  .extend({
    /** Public WebSocket port (`/ws`). */
    PORT: port(8080),
    HERALD_JWT_SECRET: z.string().min(16, "HERALD_JWT_SECRET must be at least 16 characters").optional(),
    HERALD_JWKS_URL: z.url().optional(),
    /** Expected `iss` / `aud` claims, when set. */
    HERALD_JWT_ISSUER: z.string().optional(),
    HERALD_JWT_AUDIENCE: z.string().optional(),
    /** Sent but unacked messages per connection; past it the connection waits for acks. */
    HERALD_MAX_INFLIGHT: positiveInt(1_000),
    /** A message unacked this long is sent again to the same connection. */
    HERALD_ACK_TIMEOUT: duration("30s"),
    /** Bytes waiting in a socket's send buffer before the client is dropped as too slow (close 4008). */
    HERALD_MAX_BUFFERED_BYTES: positiveInt(4 * 1024 * 1024),
    /** Largest frame a client may send (close 1009 past it). */
    HERALD_MAX_FRAME_BYTES: positiveInt(64 * 1024),
    /** Time a client without `?token=` has to send its `auth` frame. */
    HERALD_HANDSHAKE_TIMEOUT: duration("5s"),
    /** WebSocket ping period; a socket that misses a pong is ended. */
    HERALD_PING_INTERVAL: duration("25s"),
    /** Channel subscriptions one connection may hold. */
    HERALD_MAX_SUBSCRIPTIONS: positiveInt(100),
    /** Frames per second one client may send (token bucket) and the burst it may save up. */
    HERALD_RATE_LIMIT: positiveInt(100),
    HERALD_RATE_BURST: positiveInt(200),
    /** Open connections from one IP address (HTTP 429 at the upgrade past it). */
    HERALD_MAX_CONNECTIONS_PER_IP: positiveInt(1_000),
    /** New connections per second this connector accepts (HTTP 503 at the upgrade past it). */
    HERALD_MAX_NEW_CONNECTIONS_PER_SECOND: positiveInt(1_000),
    /** Take the client address from X-Forwarded-For (only behind a proxy that sets it). */
    HERALD_TRUST_PROXY: z.stringbool().default(false),
    /** Least time between two fetches of the JWKS (a token with an unknown `kid` triggers one). */
    HERALD_JWKS_COOLDOWN: duration("30s"),
    /** Messages per replay page requested from persistence. */
    HERALD_REPLAY_PAGE: positiveInt(500),
    /** How often this connector tells presence which connections it holds. */
    PRESENCE_HEARTBEAT_INTERVAL: duration("3s"),
    /** Identifies this process to presence; unique per start by default. */
    CONNECTOR_ID: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, "CONNECTOR_ID must be 1-64 characters of [A-Za-z0-9_-]")
      .default(
        () =>
          `${hostname()
            .replace(/[^A-Za-z0-9_-]/g, "-")
            .slice(0, 40)}-${process.pid}-${Date.now().toString(36)}`,
      ),
  })
  .refine((env) => env.HERALD_JWT_SECRET !== undefined || env.HERALD_JWKS_URL !== undefined, {
    message: "set HERALD_JWT_SECRET (HS256) or HERALD_JWKS_URL",
    path: ["HERALD_JWT_SECRET"],
  });
export type Config = z.infer<typeof envSchema>;

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  return parseEnv(envSchema, env);
}
