import { channelProblem, userIdProblem } from "@herald/protocol";
import { SignJWT } from "jose";

/** A request the token endpoint refuses; answered with HTTP 400 and this code. */
export class DemoRequestError extends Error {
  override name = "DemoRequestError";
  readonly code = "invalid_request";
}

export type TokenRequest = { userId: string; deviceId: string; channels: string[] };

/** Checks a token request body: ids as the contract allows them, channel names or `prefix*` patterns. */
export function parseTokenRequest(body: unknown): TokenRequest {
  const { userId, deviceId, channels } = (body ?? {}) as Record<string, unknown>;
  const problem = userIdProblem(userId) ?? userIdProblem(deviceId)?.replace("user id", "device id");
  if (problem) throw new DemoRequestError(problem);
  const list = channels === undefined ? [] : channels;
  if (!Array.isArray(list) || list.some((channel) => channelProblem(String(channel).replace(/\*$/, "")))) {
    throw new DemoRequestError("channels must be a list of channel names or prefix* patterns");
  }
  return { userId: userId as string, deviceId: deviceId as string, channels: list.map(String) };
}

/**
 * A short-lived HS256 connection token for the dev secret. The SDK's token callback fetches a new one before it
 * expires, so the page also shows token refresh working.
 */
export async function mintDevToken(
  request: TokenRequest,
  secret: string,
  ttlSeconds: number,
): Promise<{ token: string; expiresAt: number }> {
  const expiresAt = Math.floor(Date.now() / 1000) + ttlSeconds;
  const token = await new SignJWT({ did: request.deviceId, channels: request.channels })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(request.userId)
    .setIssuedAt()
    .setExpirationTime(expiresAt)
    .sign(new TextEncoder().encode(secret));
  return { token, expiresAt };
}
