/**
 * Explicit JWT typing (RFC 8725 §3.11): the `typ` header says what a token is for, so a token minted for one
 * purpose is refused for another.
 *
 * - A connection token (`?token=`, `auth`, `refresh`) has `typ` `herald-connection+jwt`, or the generic `JWT`
 *   (or none) for tokens minted before typing, and must not carry a `channel` claim.
 * - A subscription token (the `token` of a `subscribe` frame) must have `typ` `herald-subscription+jwt` and a
 *   `channel` claim.
 */
export const CONNECTION_TOKEN_TYPE = "herald-connection+jwt";
export const SUBSCRIPTION_TOKEN_TYPE = "herald-subscription+jwt";

export type TokenKind = "connection" | "subscription";

/** What a `typ` header value marks a token as (`application/` prefix and case ignored), or `undefined`. */
export function tokenKindOf(typ: unknown): TokenKind | undefined {
  if (typ === undefined) return "connection";
  if (typeof typ !== "string") return undefined;
  const type = typ.toLowerCase().replace(/^application\//, "");
  if (type === "jwt" || type === CONNECTION_TOKEN_TYPE) return "connection";
  if (type === SUBSCRIPTION_TOKEN_TYPE) return "subscription";
  return undefined;
}
