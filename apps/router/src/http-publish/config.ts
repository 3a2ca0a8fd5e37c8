import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { DEFAULT_PUBLISH_AUDIENCE } from "@herald/protocol";
import { positiveInt } from "@herald/service-kit";
import { z } from "zod";

const SHA256_HEX = /^[0-9a-f]{64}$/;

export const sha256Hex = (text: string): string => createHash("sha256").update(text, "utf8").digest("hex");

/**
 * The HTTP publish API's variables (router). Off unless `HERALD_HTTP_PUBLISH_PORT` is set; when it is, at least
 * one way to authenticate must be too. Secrets never appear in a config error: only their variable names.
 */
export const httpPublishEnv = {
  /** Port of the HTTP publish API; unset: no HTTP publishing. */
  HERALD_HTTP_PUBLISH_PORT: z.coerce.number().int().min(0).max(65_535).optional(),
  /** API keys as lower-case hex SHA-256 hashes, comma-separated (the keys themselves are never configured). */
  HERALD_HTTP_PUBLISH_API_KEY_HASHES: z
    .string()
    .optional()
    .transform((value, ctx) => {
      const hashes = (value ?? "")
        .split(",")
        .map((hash) => hash.trim().toLowerCase())
        .filter(Boolean);
      if (hashes.some((hash) => !SHA256_HEX.test(hash))) {
        ctx.addIssue({ code: "custom", message: "each entry must be a hex SHA-256 hash (64 characters)" });
        return z.NEVER;
      }
      return hashes;
    }),
  /** A secret file with one API key per line (a mounted Kubernetes Secret); hashed when read, at start. */
  HERALD_HTTP_PUBLISH_API_KEYS_FILE: z
    .string()
    .optional()
    .transform((path, ctx) => {
      if (path === undefined) return [];
      try {
        return readFileSync(path, "utf8")
          .split("\n")
          .map((line) => line.trim())
          .filter((line) => line.length > 0 && !line.startsWith("#"))
          .map(sha256Hex);
      } catch (err) {
        ctx.addIssue({ code: "custom", message: `cannot read ${path}: ${(err as { code?: string }).code}` });
        return z.NEVER;
      }
    }),
  /** HS256 key of publish JWTs (`typ` herald-publish+jwt, scope herald:publish); unset: no JWTs. */
  HERALD_HTTP_PUBLISH_JWT_SECRET: z
    .string()
    .min(32, "HERALD_HTTP_PUBLISH_JWT_SECRET must be at least 32 characters")
    .optional(),
  HERALD_HTTP_PUBLISH_JWT_AUDIENCE: z.string().min(1).default(DEFAULT_PUBLISH_AUDIENCE),
  HERALD_HTTP_PUBLISH_JWT_ISSUER: z.string().min(1).optional(),
  /** Publishes per second each key (API key, or JWT subject) may make on average. */
  HERALD_HTTP_PUBLISH_RATE: positiveInt(100),
  /** Publishes a key may make at once after a quiet spell. */
  HERALD_HTTP_PUBLISH_BURST: positiveInt(200),
};

type HttpPublishEnv = {
  ADMIN_PORT: number;
  HERALD_HTTP_PUBLISH_PORT?: number | undefined;
  HERALD_HTTP_PUBLISH_API_KEY_HASHES: string[];
  HERALD_HTTP_PUBLISH_API_KEYS_FILE: string[];
  HERALD_HTTP_PUBLISH_JWT_SECRET?: string | undefined;
};

/** Settings that only make sense together: an open publish port needs a way to authenticate. */
export function checkHttpPublishEnv(config: HttpPublishEnv, ctx: z.RefinementCtx): void {
  const port = config.HERALD_HTTP_PUBLISH_PORT;
  if (port === undefined) return;
  const keys =
    config.HERALD_HTTP_PUBLISH_API_KEY_HASHES.length + config.HERALD_HTTP_PUBLISH_API_KEYS_FILE.length;
  if (keys === 0 && config.HERALD_HTTP_PUBLISH_JWT_SECRET === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["HERALD_HTTP_PUBLISH_PORT"],
      message:
        "HTTP publishing needs HERALD_HTTP_PUBLISH_API_KEY_HASHES, HERALD_HTTP_PUBLISH_API_KEYS_FILE or HERALD_HTTP_PUBLISH_JWT_SECRET",
    });
  }
  if (port !== 0 && port === config.ADMIN_PORT) {
    ctx.addIssue({
      code: "custom",
      path: ["HERALD_HTTP_PUBLISH_PORT"],
      message: "HERALD_HTTP_PUBLISH_PORT must differ from ADMIN_PORT",
    });
  }
}
