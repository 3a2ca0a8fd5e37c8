import { DEFAULT_CHANNEL_RETENTION, DEFAULT_PREFIX, parseChannelRetention, subjects } from "@herald/protocol";
import { z } from "zod";

/** Raised at start-up when the environment is not valid; lists every problem at once. */
export class ConfigError extends Error {
  override name = "ConfigError";
  readonly code = "invalid_config";
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
  }
}

const natsUrl = z
  .string()
  .default("nats://127.0.0.1:4222")
  .transform((value) =>
    value
      .split(",")
      .map((url) => url.trim())
      .filter(Boolean),
  )
  .refine((urls) => urls.length > 0, "NATS_URL needs at least one URL")
  .refine(
    (urls) => urls.every((url) => /^(nats|tls|ws|wss):\/\/[^\s]+$/.test(url) || /^[\w.-]+:\d+$/.test(url)),
    "NATS_URL entries look like nats://host:port",
  );

const prefix = z
  .string()
  .default(DEFAULT_PREFIX)
  .refine((value) => {
    try {
      subjects(value);
      return true;
    } catch {
      return false;
    }
  }, "HERALD_PREFIX must be dot-separated tokens of [A-Za-z0-9_-]");

export const port = (fallback: number) => z.coerce.number().int().min(0).max(65_535).default(fallback);
export const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
/** `HERALD_HEAP_GROWTH_PERCENT` (see `limitHeapGrowth`), with each service's default. */
export const heapGrowthPercent = (fallback: number) =>
  z.coerce.number().int().min(0).max(1000).default(fallback);
/** Durations in milliseconds, or with a unit: `500ms`, `30s`, `5m`, `2h`, `7d`. */
export const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value, ctx) => {
      const match = /^(\d+)(ms|s|m|h|d)?$/.exec(value.trim());
      if (!match) {
        ctx.addIssue({
          code: "custom",
          message: `'${value}' is not a duration like 500ms, 30s, 5m, 2h or 7d`,
        });
        return z.NEVER;
      }
      const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] ?? "ms"] ?? 1;
      return Number(match[1]) * unit;
    });

const BYTE_UNITS: Record<string, number> = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
};

/** Sizes in bytes, or with a unit: `65536`, `512KiB`, `64MiB`, `2GiB` (or decimal `KB`, `MB`, `GB`). */
export const byteSize = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value, ctx) => {
      const match = /^(\d+)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$/.exec(value.trim());
      const bytes = match ? Number(match[1]) * (BYTE_UNITS[match[2] ?? "B"] ?? 1) : Number.NaN;
      if (!Number.isSafeInteger(bytes) || bytes < 1) {
        ctx.addIssue({
          code: "custom",
          message: `'${value}' is not a size like 65536, 512KiB, 64MiB or 2GiB`,
        });
        return z.NEVER;
      }
      return bytes;
    });

/** Variables every service reads (contract section 1). */
export const baseEnvSchema = z.object({
  NATS_URL: natsUrl,
  NATS_USER: z.string().optional(),
  NATS_PASSWORD: z.string().optional(),
  NATS_TOKEN: z.string().optional(),
  NATS_CREDS_FILE: z.string().optional(),
  NATS_NKEY_SEED_FILE: z.string().optional(),
  NATS_TLS_CA_FILE: z.string().optional(),
  NATS_TLS_CERT_FILE: z.string().optional(),
  NATS_TLS_KEY_FILE: z.string().optional(),
  /**
   * How often a service pings its NATS server. A server that dies cleanly closes the connection at once; one
   * that hangs or drops off the network is noticed only after NATS_MAX_PINGS_OUT unanswered pings, and the
   * service then reconnects to another node (nats.js defaults: 2 min and 2, minutes of silence).
   */
  NATS_PING_INTERVAL: duration("1s"),
  NATS_MAX_PINGS_OUT: positiveInt(2),
  HERALD_PREFIX: prefix,
  ADMIN_PORT: port(9090),
  HERALD_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
  /** Channel retention groups, e.g. `chat-*=1000/24h;*=100/1h` (router, connector and persistence must agree). */
  HERALD_CHANNEL_RETENTION: z
    .string()
    .default(DEFAULT_CHANNEL_RETENTION)
    .transform((value, ctx) => {
      try {
        return parseChannelRetention(value);
      } catch (err) {
        ctx.addIssue({ code: "custom", message: (err as Error).message });
        return z.NEVER;
      }
    }),
  /**
   * How far the heap may grow past what the last full collection kept, in percent (0: V8 decides). Lower
   * costs CPU in collections and saves memory under load.
   */
  HERALD_HEAP_GROWTH_PERCENT: heapGrowthPercent(0),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** Seconds SIGTERM may take before the process exits anyway; keep below the pod's grace period. */
  SHUTDOWN_TIMEOUT: duration("25s"),
  /** How long readiness reports 503 before connections are closed, so load balancers stop routing here. */
  SHUTDOWN_DELAY: duration("0s"),
});
export type BaseConfig = z.infer<typeof baseEnvSchema>;

/**
 * Parses the environment once with a schema; every problem is reported together.
 *
 * @example
 * const config = parseEnv(baseEnvSchema.extend({ PORT: port(8080) }), process.env);
 */
export function parseEnv<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined>,
): z.infer<S> {
  // Empty strings mean "unset": that is how Kubernetes and shells usually pass an absent value.
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ""),
  );
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => `${issue.path.join(".") || "(env)"}: ${issue.message}`),
  );
}
