import { hostname } from "node:os";
import { baseEnvSchema, duration, heapGrowthPercent, parseEnv, port, positiveInt } from "@herald/service-kit";
import { z } from "zod";
import type { AuthOptions } from "./auth.js";
import { NO_PROXY, type ProxyTrust, parseTrustedProxies } from "./client-address.js";
import { jwksUrlProblem } from "./jwks.js";

/** HS256 keys shorter than this are refused: RFC 7518 §3.2 wants at least the hash size (256 bits). */
export const MIN_HS256_KEY_BYTES = 32;
/** The connector's default `HERALD_HEAP_GROWTH_PERCENT` (figures: bench/README.md). */
export const CONNECTOR_HEAP_GROWTH_PERCENT = 20;
const KID = /^[A-Za-z0-9._-]{1,64}$/;

const hs256Key = (name: string) =>
  z
    .string()
    .refine(
      (key) => Buffer.byteLength(key, "utf8") >= MIN_HS256_KEY_BYTES,
      `${name} must be at least ${MIN_HS256_KEY_BYTES} bytes`,
    );

/**
 * `HERALD_JWT_SECRETS`: comma-separated `kid=key` pairs, e.g. `2026-05=<key>,2026-06=<key>`. A token's `kid`
 * header picks its key, so a new key is added before tokens use it and the old one removed afterwards.
 */
const hs256Keys = z
  .string()
  .optional()
  .transform((text, ctx) => {
    const keys = new Map<string, string>();
    const entries = (text ?? "").split(",").filter((part) => part.trim() !== "");
    for (const [n, entry] of entries.entries()) {
      const at = entry.indexOf("=");
      const kid = entry.slice(0, Math.max(0, at)).trim();
      const key = entry.slice(at + 1).trim();
      if (at < 0 || !KID.test(kid)) {
        // Named by position: the entry may be a key pasted without its kid, which must not reach the logs.
        ctx.addIssue({
          code: "custom",
          message: `entry ${n + 1} is not kid=key (kid: 1-64 of [A-Za-z0-9._-])`,
        });
      } else if (keys.has(kid)) {
        ctx.addIssue({ code: "custom", message: `kid '${kid}' appears twice` });
      } else if (Buffer.byteLength(key, "utf8") < MIN_HS256_KEY_BYTES) {
        ctx.addIssue({
          code: "custom",
          message: `the key of kid '${kid}' must be at least ${MIN_HS256_KEY_BYTES} bytes`,
        });
      } else {
        keys.set(kid, key);
      }
    }
    return keys;
  });

const trustedProxies = z
  .string()
  .optional()
  .transform((text, ctx): ProxyTrust | undefined => {
    if (text === undefined) return undefined;
    const { trust, problems } = parseTrustedProxies(text);
    for (const message of problems) ctx.addIssue({ code: "custom", message });
    return trust;
  });

export const envSchema = baseEnvSchema
  .extend({
    /** Public WebSocket port (`/ws`). */
    PORT: port(8080),
    /**
     * The connector's memory grows with its connections, so its heap is kept near what it holds: see
     * `limitHeapGrowth` (the other services leave it to V8).
     */
    HERALD_HEAP_GROWTH_PERCENT: heapGrowthPercent(CONNECTOR_HEAP_GROWTH_PERCENT),
    /** HS256 key for tokens without a `kid` header. */
    HERALD_JWT_SECRET: hs256Key("HERALD_JWT_SECRET").optional(),
    /** HS256 keys by `kid`: `kid=key,kid2=key2`. */
    HERALD_JWT_SECRETS: hs256Keys,
    /** JWKS for asymmetric tokens: https only, except loopback hosts or with HERALD_JWKS_ALLOW_HTTP. */
    HERALD_JWKS_URL: z.url().optional(),
    /** Development only: accept an `http:` JWKS URL on any host. */
    HERALD_JWKS_ALLOW_HTTP: z.stringbool().default(false),
    /** Expected `iss` / `aud` claims, when set (`aud` is required with a JWKS). */
    HERALD_JWT_ISSUER: z.string().optional(),
    HERALD_JWT_AUDIENCE: z.string().optional(),
    /** Longest a token may be valid for from now (`exp` is required); refused past it. */
    HERALD_MAX_TOKEN_LIFETIME: duration("24h").refine(
      (ms) => ms > 0,
      "HERALD_MAX_TOKEN_LIFETIME must be > 0",
    ),
    /** Sent but unacked messages per connection; past it the connection waits for acks. */
    HERALD_MAX_INFLIGHT: positiveInt(1_000),
    /** A message unacked this long is sent again to the same connection. */
    HERALD_ACK_TIMEOUT: duration("30s"),
    /** Bytes waiting in a socket's send buffer before the client is dropped as too slow (close 4008). */
    HERALD_MAX_BUFFERED_BYTES: positiveInt(4 * 1024 * 1024),
    /** Bytes buffered across all sockets of one user; past it that user's slowest socket is closed (4008). */
    HERALD_MAX_BUFFERED_BYTES_PER_USER: positiveInt(16 * 1024 * 1024),
    /** Bytes buffered across all sockets of this connector; past it the slowest socket is closed (4008). */
    HERALD_MAX_BUFFERED_BYTES_TOTAL: positiveInt(256 * 1024 * 1024),
    /** Largest frame a client may send (close 1009 past it). */
    HERALD_MAX_FRAME_BYTES: positiveInt(64 * 1024),
    /** Time a client without `?token=` has to send its `auth` frame. */
    HERALD_HANDSHAKE_TIMEOUT: duration("5s"),
    /** Keep-alive period: a socket from which nothing arrived since the previous ping (no pong, no frame) is ended. */
    HERALD_PING_INTERVAL: duration("25s"),
    /** Channel subscriptions one connection may hold. */
    HERALD_MAX_SUBSCRIPTIONS: positiveInt(100),
    /** Frames per second one client may send (token bucket) and the burst it may save up. */
    HERALD_RATE_LIMIT: positiveInt(100),
    HERALD_RATE_BURST: positiveInt(200),
    /** Open connections from one IP address (HTTP 429 at the upgrade past it). */
    HERALD_MAX_CONNECTIONS_PER_IP: positiveInt(1_000),
    /** New connections per second this connector accepts; past it they queue (see the next). */
    HERALD_MAX_NEW_CONNECTIONS_PER_SECOND: positiveInt(2_000),
    /** Longest a new connection past the rate waits for its turn; past that, HTTP 503 with Retry-After. */
    HERALD_NEW_CONNECTION_MAX_WAIT: duration("4s"),
    /**
     * Connections the kernel queues for this connector to accept (the listen backlog; Linux caps it at
     * `net.core.somaxconn`). Node's default, 511, overflows in a reconnect storm: the kernel then drops the
     * clients' SYNs and each waits for its retransmit (1 s, then 3 s, 7 s, ...) instead of its turn.
     */
    HERALD_LISTEN_BACKLOG: positiveInt(4_096),
    /**
     * Proxies trusted to write X-Forwarded-For: a hop count (`1` behind one ingress) or a comma-separated list of
     * addresses / CIDR ranges. The client is the right-most entry that is not a trusted proxy.
     */
    HERALD_TRUSTED_PROXIES: trustedProxies,
    /** Deprecated: `true` is `HERALD_TRUSTED_PROXIES=1`. */
    HERALD_TRUST_PROXY: z.stringbool().default(false),
    /** Time a client has to send its complete HTTP request headers (the upgrade request). */
    HERALD_HEADERS_TIMEOUT: duration("10s").refine((ms) => ms > 0, "HERALD_HEADERS_TIMEOUT must be > 0"),
    /** Time a client has to send a whole plain HTTP request. */
    HERALD_REQUEST_TIMEOUT: duration("30s").refine((ms) => ms > 0, "HERALD_REQUEST_TIMEOUT must be > 0"),
    /** Least time between two fetches of the JWKS (a token with an unknown `kid` triggers one). */
    HERALD_JWKS_COOLDOWN: duration("30s"),
    /** JWKS keys older than this are fetched again before use. */
    HERALD_JWKS_CACHE_MAX_AGE: duration("10m"),
    /** While the JWKS host fails, the last good keys keep verifying for this long after they were fetched. */
    HERALD_JWKS_MAX_STALE: duration("6h"),
    /** Offer permessage-deflate to WebSocket clients (costs CPU per socket and message; off by default). */
    HERALD_WS_COMPRESSION: z.stringbool().default(false),
    /** With compression on: frames smaller than this many bytes go uncompressed. */
    HERALD_WS_COMPRESSION_THRESHOLD: positiveInt(1_024),
    /** Serve the Server-Sent Events fallback (`/sse`) for clients whose network blocks WebSocket. */
    HERALD_SSE_ENABLED: z.stringbool().default(true),
    /** How long an SSE ticket (`POST /sse/ticket`) may wait for its stream (`GET /sse?ticket=`). */
    HERALD_SSE_TICKET_TTL: duration("30s").refine((ms) => ms > 0, "HERALD_SSE_TICKET_TTL must be > 0"),
    /** SSE tickets issued and not yet used at once (503 past it). */
    HERALD_SSE_MAX_TICKETS: positiveInt(10_000),
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
  // Runs even when single variables failed (`when`), so one start-up lists every problem; hence the guards.
  .superRefine(
    (env, ctx) => {
      const problem = (path: string, message: string) =>
        ctx.addIssue({ code: "custom", path: [path], message });
      const hmacKeys = env.HERALD_JWT_SECRETS instanceof Map ? env.HERALD_JWT_SECRETS.size : 0;
      if (env.HERALD_JWT_SECRET === undefined && hmacKeys === 0 && !env.HERALD_JWKS_URL) {
        problem(
          "HERALD_JWT_SECRET",
          "set HERALD_JWT_SECRET or HERALD_JWT_SECRETS (HS256), or HERALD_JWKS_URL",
        );
      }
      if (typeof env.HERALD_JWKS_URL === "string") {
        const urlProblem = jwksUrlProblem(env.HERALD_JWKS_URL, env.HERALD_JWKS_ALLOW_HTTP === true);
        if (urlProblem) problem("HERALD_JWKS_URL", urlProblem);
        if (!env.HERALD_JWT_AUDIENCE) {
          problem(
            "HERALD_JWT_AUDIENCE",
            "is required with HERALD_JWKS_URL: the key set's issuer signs tokens for other services too",
          );
        }
      }
      if (env.HERALD_TRUSTED_PROXIES !== undefined && env.HERALD_TRUST_PROXY === true) {
        problem("HERALD_TRUST_PROXY", "set HERALD_TRUSTED_PROXIES only (HERALD_TRUST_PROXY is deprecated)");
      }
      if (env.HERALD_HEADERS_TIMEOUT > env.HERALD_REQUEST_TIMEOUT) {
        problem("HERALD_HEADERS_TIMEOUT", "must not be longer than HERALD_REQUEST_TIMEOUT");
      }
    },
    { when: () => true },
  );
export type Config = z.infer<typeof envSchema>;

/** The proxy trust in effect: `HERALD_TRUSTED_PROXIES`, or one hop for the deprecated `HERALD_TRUST_PROXY`. */
export function proxyTrust(config: Config): ProxyTrust {
  if (config.HERALD_TRUSTED_PROXIES !== undefined) return config.HERALD_TRUSTED_PROXIES;
  return config.HERALD_TRUST_PROXY ? { kind: "hops", hops: 1 } : NO_PROXY;
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  return parseEnv(envSchema, env);
}

/** The token checks the configuration asks for. */
export function authOptions(config: Config): AuthOptions {
  return {
    secret: config.HERALD_JWT_SECRET,
    secrets: config.HERALD_JWT_SECRETS,
    jwksUrl: config.HERALD_JWKS_URL,
    jwksCooldownMs: config.HERALD_JWKS_COOLDOWN,
    jwksCacheMaxAgeMs: config.HERALD_JWKS_CACHE_MAX_AGE,
    jwksMaxStaleMs: config.HERALD_JWKS_MAX_STALE,
    issuer: config.HERALD_JWT_ISSUER,
    audience: config.HERALD_JWT_AUDIENCE,
    maxLifetimeMs: config.HERALD_MAX_TOKEN_LIFETIME,
  };
}
