import { ErrorCode, HeraldError, PUBLISH_SCOPE, PUBLISH_TOKEN_TYPE } from "@herald/protocol";
import { errors, jwtVerify } from "jose";
import { sha256Hex } from "./config.js";

/** Who a request publishes as: `key` names its rate-limit bucket and log lines, never a secret. */
export type Publisher = { key: string };

export class PublishAuthError extends HeraldError {
  override name = "PublishAuthError";
}

export type PublishAuthOptions = {
  /** Lower-case hex SHA-256 of every accepted API key. */
  apiKeyHashes: readonly string[];
  /** HS256 key of publish JWTs; `undefined`: JWTs are refused. */
  jwtSecret: string | undefined;
  audience: string;
  issuer: string | undefined;
};

/** Checks the `Authorization` header of one request and says who it publishes as. */
export type PublishAuth = (authorization: string | undefined) => Promise<Publisher>;

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * `Authorization: Bearer <credential>`, where the credential is an API key (compared by its SHA-256, so only
 * hashes are configured) or a JWT with `typ` `herald-publish+jwt`, HS256, `exp`, `sub`, the configured audience
 * and `herald:publish` in its `scope`. A JWT without that scope is authenticated but refused (403).
 */
export function createPublishAuth(options: PublishAuthOptions): PublishAuth {
  const hashes = new Set(options.apiKeyHashes);
  const key = options.jwtSecret === undefined ? undefined : new TextEncoder().encode(options.jwtSecret);
  const unauthorized = (message: string) => new PublishAuthError(ErrorCode.Unauthorized, message);

  return async (authorization) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
    if (!match) throw unauthorized("send 'Authorization: Bearer <API key or publish JWT>'");
    const credential = match[1]!;
    if (key !== undefined && JWT_SHAPE.test(credential)) return verifyJwt(credential, key, options);
    const hash = sha256Hex(credential);
    if (hashes.has(hash)) return { key: `apikey:${hash.slice(0, 16)}` };
    throw unauthorized("the API key or token is not valid");
  };
}

async function verifyJwt(token: string, key: Uint8Array, options: PublishAuthOptions): Promise<Publisher> {
  let payload: { sub?: string; scope?: unknown };
  try {
    ({ payload } = await jwtVerify(token, key, {
      algorithms: ["HS256"],
      typ: PUBLISH_TOKEN_TYPE,
      audience: options.audience,
      ...(options.issuer ? { issuer: options.issuer } : {}),
      requiredClaims: ["sub", "exp"],
    }));
  } catch (err) {
    if (err instanceof errors.JWTExpired)
      throw new PublishAuthError(ErrorCode.TokenExpired, "the token has expired");
    const why = err instanceof errors.JWTClaimValidationFailed ? `: ${err.message}` : "";
    throw new PublishAuthError(ErrorCode.Unauthorized, `the token is not valid${why}`);
  }
  const scopes = typeof payload.scope === "string" ? payload.scope.split(" ") : [];
  if (!scopes.includes(PUBLISH_SCOPE)) {
    throw new PublishAuthError(ErrorCode.Forbidden, `the token's scope does not include '${PUBLISH_SCOPE}'`);
  }
  return { key: `jwt:${payload.sub}` };
}
