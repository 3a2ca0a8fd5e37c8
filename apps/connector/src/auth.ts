import {
  ErrorCode,
  HeraldError,
  SUBSCRIPTION_TOKEN_TYPE,
  type TokenKind,
  tokenKindOf,
  userIdProblem,
} from "@herald/protocol";
import {
  decodeProtectedHeader,
  errors,
  type JWTHeaderParameters,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyResult,
  jwtVerify,
} from "jose";
import { resilientJwks } from "./jwks.js";

export type Identity = {
  userId: string;
  deviceId: string;
  channels: readonly string[];
  /** Expiry in ms since the epoch (every token has one). */
  expiresAt: number;
  /** The `channel` claim of a subscription token. */
  channel: string | undefined;
};

export class AuthError extends HeraldError {
  override name = "AuthError";
}

export type AuthOptions = {
  /** HS256 key for tokens without a `kid` header. */
  secret?: string | undefined;
  /** HS256 keys by `kid`, so a new key can be added before tokens use it and the old one removed after. */
  secrets?: ReadonlyMap<string, string> | undefined;
  jwksUrl?: string | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
  /** Longest a token may still be valid for (`exp` minus now). Default 24 h. */
  maxLifetimeMs?: number | undefined;
  /** Least time between two JWKS fetches (jose's cooldown). */
  jwksCooldownMs?: number | undefined;
  /** Keys are fetched again once this old (jose's cache max age). */
  jwksCacheMaxAgeMs?: number | undefined;
  /** Last good keys keep verifying this long after their fetch while the JWKS host fails. */
  jwksMaxStaleMs?: number | undefined;
};

/** Checks a token meant for `kind` and returns who it is for. */
export type Verifier = (token: string, kind: TokenKind) => Promise<Identity>;

export const DEFAULT_MAX_TOKEN_LIFETIME_MS = 24 * 3_600_000;
/** Room for the issuer's clock running ahead of ours when checking the lifetime. */
const LIFETIME_CLOCK_SLACK_MS = 60_000;

const ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"];

/**
 * Verifies tokens with jose: HS256 with shared keys (chosen by `kid`), or asymmetric keys from a JWKS URL.
 * The algorithm list is fixed, so `alg: none` never passes. Every token needs `sub` and `exp`, an `exp` no
 * further away than the maximum lifetime, and the `typ` of its kind (see `@herald/protocol` token-types).
 */
export function createVerifier(options: AuthOptions): Verifier {
  const hmac = hmacKeys(options);
  const jwks: JWTVerifyGetKey | undefined = options.jwksUrl
    ? resilientJwks(new URL(options.jwksUrl), {
        cooldownMs: options.jwksCooldownMs ?? 30_000,
        cacheMaxAgeMs: options.jwksCacheMaxAgeMs ?? 600_000,
        maxStaleMs: options.jwksMaxStaleMs ?? 6 * 3_600_000,
      })
    : undefined;
  const common = {
    ...(options.issuer ? { issuer: options.issuer } : {}),
    ...(options.audience ? { audience: options.audience } : {}),
    requiredClaims: ["sub", "exp"],
  };
  const maxLifetimeMs = options.maxLifetimeMs ?? DEFAULT_MAX_TOKEN_LIFETIME_MS;
  return async (token, kind) => {
    let verified: JWTVerifyResult;
    try {
      if (hmac && (!jwks || headerAlg(token) === "HS256")) {
        verified = await jwtVerify(token, hmac, { ...common, algorithms: ["HS256"] });
      } else if (jwks) {
        verified = await jwtVerify(token, jwks, { ...common, algorithms: ASYMMETRIC });
      } else {
        throw new AuthError(ErrorCode.Unauthorized, "no verification key configured");
      }
    } catch (err) {
      if (err instanceof AuthError) throw err;
      if (err instanceof errors.JWTExpired) throw new AuthError(ErrorCode.TokenExpired, "token expired");
      throw new AuthError(ErrorCode.Unauthorized, `invalid token: ${describe(err)}`);
    }
    const { payload, protectedHeader } = verified;
    checkKind(protectedHeader, payload, kind);
    const expiresAt = (payload.exp as number) * 1000;
    if (expiresAt - Date.now() > maxLifetimeMs + LIFETIME_CLOCK_SLACK_MS) {
      throw new AuthError(
        ErrorCode.Unauthorized,
        `token lives longer than the allowed ${Math.round(maxLifetimeMs / 1000)} s; mint shorter-lived tokens and refresh them`,
      );
    }
    return identityFrom(payload, expiresAt);
  };
}

/**
 * The HS256 key resolver: the token's `kid` picks from `secrets`; a token without one uses `secret`. Each
 * secret is imported as a WebCrypto key once: given raw bytes, jose imports them again for every token, which
 * doubled the CPU of a verify (a reconnect storm verifies thousands a second).
 */
function hmacKeys(options: AuthOptions): ((header: JWTHeaderParameters) => Promise<CryptoKey>) | undefined {
  const byKid = new Map([...(options.secrets ?? new Map<string, string>())].map(([k, v]) => [k, hmacKey(v)]));
  const fallback = options.secret ? hmacKey(options.secret) : undefined;
  if (byKid.size === 0 && !fallback) return undefined;
  return async (header) => {
    const key = header.kid === undefined ? fallback : byKid.get(header.kid);
    if (key) return key;
    throw new AuthError(
      ErrorCode.Unauthorized,
      header.kid === undefined ? "invalid token: a kid header is required" : "invalid token: unknown kid",
    );
  };
}

function hmacKey(secret: string): Promise<CryptoKey> {
  const raw = new TextEncoder().encode(secret);
  return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
}

function checkKind(header: JWTHeaderParameters, payload: JWTPayload, kind: TokenKind): void {
  const actual = tokenKindOf(header.typ);
  if (actual === undefined) throw new AuthError(ErrorCode.Unauthorized, "invalid token: unknown typ header");
  if (actual !== kind) {
    throw new AuthError(ErrorCode.Unauthorized, `a ${actual} token cannot be used as a ${kind} token`);
  }
  if (kind === "connection" && payload.channel !== undefined) {
    throw new AuthError(
      ErrorCode.Unauthorized,
      `a connection token must not carry a channel claim (subscription tokens have typ ${SUBSCRIPTION_TOKEN_TYPE})`,
    );
  }
  if (kind === "subscription" && typeof payload.channel !== "string") {
    throw new AuthError(ErrorCode.Unauthorized, "a subscription token needs a channel claim");
  }
}

/** Most tokens name no channels: one shared empty list rather than one per connection. */
const NO_CHANNELS: readonly string[] = Object.freeze([]);

function identityFrom(payload: JWTPayload, expiresAt: number): Identity {
  const userId = payload.sub;
  const userProblem = userIdProblem(userId);
  if (userProblem || userId === undefined) throw new AuthError(ErrorCode.Unauthorized, `sub: ${userProblem}`);
  const did = payload.did ?? "default";
  const deviceProblem = userIdProblem(did);
  if (deviceProblem)
    throw new AuthError(ErrorCode.Unauthorized, `did: ${deviceProblem.replace("user id", "device id")}`);
  const channels = payload.channels ?? NO_CHANNELS;
  if (!Array.isArray(channels) || !channels.every((c) => typeof c === "string")) {
    throw new AuthError(ErrorCode.Unauthorized, "channels claim must be a list of strings");
  }
  return {
    userId,
    deviceId: did as string,
    channels: channels as readonly string[],
    expiresAt,
    channel: typeof payload.channel === "string" ? payload.channel : undefined,
  };
}

function headerAlg(token: string): string | undefined {
  try {
    return decodeProtectedHeader(token).alg;
  } catch {
    return undefined;
  }
}

function describe(err: unknown): string {
  // jose's claim messages name the claim and never echo its value: e.g. `missing required "exp" claim`.
  if (err instanceof errors.JWTClaimValidationFailed) return err.message;
  if (err instanceof errors.JOSEError) return err.code.replace(/^ERR_/, "").toLowerCase();
  return err instanceof Error ? err.message : "unverifiable";
}
