import { TokenError } from "./errors.js";
import { jwtExpiresAt } from "./jwt.js";
import type { TokenSource } from "./options.js";

/** `setTimeout` treats longer delays as 0; a far-off refresh is re-armed from this instead. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Never refresh more often than this, whatever the token says. */
const MIN_REFRESH_DELAY_MS = 250;

export interface RefresherDeps {
  source: TokenSource;
  refreshBeforeExpiryMs: number;
  /** Sends the new token to the server (a `refresh` frame). */
  onToken: (token: string) => void;
  onError: (error: TokenError) => void;
}

/**
 * Fetches a new token from the callback shortly before the current one's `exp` and hands it to `onToken`, so a
 * long-lived connection is not closed with 4003. Does nothing for a static token (it cannot be renewed) or a
 * token without `exp`.
 */
export class TokenRefresher {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #run = 0;

  constructor(private readonly deps: RefresherDeps) {}

  /** Starts refreshing `token` for as long as `alive()` (the connection it was sent on is current). */
  start(token: string, alive: () => boolean): void {
    this.stop();
    this.#arm(token, this.#run, alive);
  }

  stop(): void {
    this.#run++;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(token: string, run: number, alive: () => boolean): void {
    const fetchToken = this.deps.source;
    const expiresAt = jwtExpiresAt(token);
    if (typeof fetchToken !== "function" || expiresAt === undefined) return;
    const refreshAt = expiresAt - this.deps.refreshBeforeExpiryMs;
    const tick = async () => {
      if (run !== this.#run || !alive()) return;
      if (Date.now() < refreshAt - MIN_REFRESH_DELAY_MS) return this.#schedule(refreshAt, tick);
      let next: string;
      try {
        next = await fetchToken();
      } catch (error) {
        return this.deps.onError(new TokenError("token refresh failed", error));
      }
      if (run !== this.#run || !alive()) return;
      if (typeof next !== "string" || next === "")
        return this.deps.onError(new TokenError("no token to refresh"));
      this.deps.onToken(next);
      // A callback that keeps returning the same expiry would otherwise be polled in a tight loop.
      if ((jwtExpiresAt(next) ?? 0) > expiresAt) this.#arm(next, run, alive);
    };
    this.#schedule(refreshAt, tick);
  }

  #schedule(at: number, tick: () => Promise<void>): void {
    const delay = Math.min(MAX_TIMER_MS, Math.max(MIN_REFRESH_DELAY_MS, at - Date.now()));
    this.#timer = setTimeout(() => void tick(), delay);
  }
}
