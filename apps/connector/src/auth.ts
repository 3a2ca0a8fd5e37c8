import { ErrorCode, HeraldError, userIdProblem } from "@herald/protocol";
import { createRemoteJWKSet, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from "jose";

export type Identity = {
  userId: string;
  deviceId: string;
  channels: string[];
  /** Expiry in ms since the epoch, if the token has one. */
  expiresAt: number | undefined;
  /** The `channel` claim of a per-subscription token. */
  channel: string | undefined;
};

export class AuthError extends HeraldError {
  override name = "AuthError";
}

export type AuthOptions = {
  secret?: string | undefined;
  jwksUrl?: string | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
  /** Least time between two JWKS fetches (jose's cooldown). */
  jwksCooldownMs?: number | undefined;
};

export type Verifier = (token: string) => Promise<Identity>;

const ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"];

/**
 * Verifies connection tokens: HS256 with a shared secret, or asymmetric keys from a JWKS URL (fetched,
 * cached and refreshed on unknown `kid` by jose). The algorithm list is fixed, so `alg: none` never passes.
 */
export function createVerifier(options: AuthOptions): Verifier {
  const secret = options.secret ? new TextEncoder().encode(options.secret) : undefined;
  const jwks: JWTVerifyGetKey | undefined = options.jwksUrl
    ? createRemoteJWKSet(new URL(options.jwksUrl), {
        cooldownDuration: options.jwksCooldownMs ?? 30_000,
      })
    : undefined;
  const common = {
    ...(options.issuer ? { issuer: options.issuer } : {}),
    ...(options.audience ? { audience: options.audience } : {}),
    requiredClaims: ["sub"],
  };
  return async (token) => {
    let payload: JWTPayload;
    try {
      if (secret && (!jwks || headerAlg(token) === "HS256")) {
        ({ payload } = await jwtVerify(token, secret, { ...common, algorithms: ["HS256"] }));
      } else if (jwks) {
        ({ payload } = await jwtVerify(token, jwks, { ...common, algorithms: ASYMMETRIC }));
      } else {
        throw new AuthError(ErrorCode.Unauthorized, "no verification key configured");
      }
    } catch (err) {
      if (err instanceof AuthError) throw err;
      if (err instanceof errors.JWTExpired) throw new AuthError(ErrorCode.TokenExpired, "token expired");
      throw new AuthError(ErrorCode.Unauthorized, `invalid token: ${describe(err)}`);
    }
    return identityFrom(payload);
  };
}

function identityFrom(payload: JWTPayload): Identity {
  const userId = payload.sub;
  const userProblem = userIdProblem(userId);
  if (userProblem || userId === undefined) throw new AuthError(ErrorCode.Unauthorized, `sub: ${userProblem}`);
  const did = payload.did ?? "default";
  const deviceProblem = userIdProblem(did);
  if (deviceProblem)
    throw new AuthError(ErrorCode.Unauthorized, `did: ${deviceProblem.replace("user id", "device id")}`);
  const channels = payload.channels ?? [];
  if (!Array.isArray(channels) || !channels.every((c) => typeof c === "string")) {
    throw new AuthError(ErrorCode.Unauthorized, "channels claim must be a list of strings");
  }
  return {
    userId,
    deviceId: did as string,
    channels: channels as string[],
    expiresAt: typeof payload.exp === "number" ? payload.exp * 1000 : undefined,
    channel: typeof payload.channel === "string" ? payload.channel : undefined,
  };
}

function headerAlg(token: string): string | undefined {
  try {
    const header = JSON.parse(Buffer.from(token.split(".")[0] ?? "", "base64url").toString("utf8")) as {
      alg?: unknown;
    };
    return typeof header.alg === "string" ? header.alg : undefined;
  } catch {
    return undefined;
  }
}

function describe(err: unknown): string {
  if (err instanceof errors.JOSEError) return err.code.replace(/^ERR_/, "").toLowerCase();
  return err instanceof Error ? err.message : "unverifiable";
}
