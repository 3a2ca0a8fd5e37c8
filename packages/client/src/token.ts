import { TokenError } from "./errors.js";
import type { TokenSource } from "./options.js";

/** The token to connect with: the static one, or a fresh one from the callback. */
export async function fetchToken(source: TokenSource): Promise<string> {
  let token: unknown;
  try {
    token = typeof source === "function" ? await source() : source;
  } catch (error) {
    throw new TokenError("token callback failed", error);
  }
  if (typeof token !== "string" || token === "") throw new TokenError("token callback returned no token");
  return token;
}

/**
 * The URL to open: with `?token=` (other query parameters kept), or unchanged when the token goes in the first
 * frame instead.
 *
 * @example
 * connectUrl("wss://push.example.com/ws", "abc", false) // "wss://push.example.com/ws?token=abc"
 */
export function connectUrl(base: string, token: string, authInFirstFrame: boolean): string {
  if (authInFirstFrame) return base;
  const url = new URL(base);
  url.searchParams.set("token", token);
  return url.toString();
}
