/**
 * The `exp` claim of a JWT in milliseconds since the epoch, or `undefined` when the token is not a JWT or has
 * no numeric `exp`. The signature is NOT verified: the client only uses this to know when to refresh.
 * Uses `atob` and `TextDecoder` so it runs in browsers as well as Node.
 *
 * @example
 * jwtExpiresAt(token) // 1767225600000
 */
export function jwtExpiresAt(token: string): number | undefined {
  const payload = decodeJwtPayload(token);
  const exp = payload?.exp;
  return typeof exp === "number" && Number.isFinite(exp) ? exp * 1000 : undefined;
}

/** The payload of a compact JWT as an object, or `undefined` when it cannot be decoded. */
export function decodeJwtPayload(token: string): Record<string, unknown> | undefined {
  const parts = token.split(".");
  if (parts.length !== 3 || parts[1] === undefined) return undefined;
  try {
    const json = new TextDecoder("utf-8", { fatal: true }).decode(base64UrlToBytes(parts[1]));
    const payload: unknown = JSON.parse(json);
    return typeof payload === "object" && payload !== null && !Array.isArray(payload)
      ? (payload as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function base64UrlToBytes(text: string): Uint8Array {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), "="));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
