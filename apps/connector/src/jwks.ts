import {
  createLocalJWKSet,
  createRemoteJWKSet,
  type ExportedJWKSCache,
  errors,
  type JWKSCacheInput,
  type JWTVerifyGetKey,
  jwksCache,
} from "jose";

export type JwksOptions = {
  /** Least time between two fetches (an unknown `kid` triggers one). */
  cooldownMs: number;
  /** Keys older than this are fetched again before use. */
  cacheMaxAgeMs: number;
  /** How long after the last successful fetch its keys still verify tokens while the JWKS host fails. */
  maxStaleMs: number;
  /** Give up on one fetch after this long. */
  timeoutMs?: number;
  now?: () => number;
};

/** The hosts a plain `http:` JWKS URL may point at without an explicit opt-in: this machine only. */
const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/;

/** Whether `url` may be used as a JWKS URL: https, or http to loopback, or any http when `allowHttp`. */
export function jwksUrlProblem(url: string, allowHttp: boolean): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "is not a URL";
  }
  if (parsed.protocol === "https:") return undefined;
  if (parsed.protocol !== "http:") return `must be an https: URL, not ${parsed.protocol}`;
  if (allowHttp || LOOPBACK.test(parsed.hostname)) return undefined;
  return "must be https: (http: is allowed for loopback hosts, or with HERALD_JWKS_ALLOW_HTTP=true for development)";
}

/**
 * jose's remote key set, plus stale-if-error: when a fetch fails (host down, timeout, bad answer), the keys of
 * the last successful fetch keep verifying tokens for `maxStaleMs` after that fetch, so an outage of the
 * identity provider does not refuse every new connection. After a failure, the next fetch waits out the
 * cooldown instead of holding each new connection for a timeout.
 */
export function resilientJwks(url: URL, options: JwksOptions): JWTVerifyGetKey {
  const now = options.now ?? Date.now;
  // jose records each successful fetch here (`uat`, `jwks`): the documented hook for keeping keys around.
  const cache: Partial<ExportedJWKSCache> = {};
  const remote = createRemoteJWKSet(url, {
    cooldownDuration: options.cooldownMs,
    cacheMaxAge: options.cacheMaxAgeMs,
    ...(options.timeoutMs === undefined ? {} : { timeoutDuration: options.timeoutMs }),
    [jwksCache]: cache as JWKSCacheInput,
  });
  let lastGood: { uat: number; keys: ReturnType<typeof createLocalJWKSet> } | undefined;
  let failedAt: number | undefined;

  const stale = () => {
    const { uat, jwks } = cache;
    if (uat === undefined || jwks === undefined || now() - uat > options.maxStaleMs) return undefined;
    if (lastGood?.uat !== uat) lastGood = { uat, keys: createLocalJWKSet(jwks) };
    return lastGood.keys;
  };

  return async (header, token) => {
    const fallback = stale();
    if (fallback && failedAt !== undefined && now() - failedAt < options.cooldownMs) {
      return fallback(header, token);
    }
    try {
      const key = await remote(header, token);
      failedAt = undefined;
      return key;
    } catch (err) {
      // A key set that answered but lacks the key is not an outage: the token is refused.
      if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys)
        throw err;
      failedAt = now();
      if (!fallback) throw err;
      return fallback(header, token);
    }
  };
}
