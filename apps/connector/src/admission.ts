import type { IncomingMessage } from "node:http";
import { ErrorCode } from "@herald/protocol";
import { TokenBucket } from "@herald/service-kit";
import { clientAddress, type ProxyTrust } from "./client-address.js";

export type AdmissionOptions = {
  /** False while draining: new clients are refused (503). */
  accepting: () => boolean;
  maxConnectionsPerIp: number;
  maxNewConnectionsPerSecond: number;
  /**
   * How long a new connection past the rate may wait for its turn (queued in arrival order) before it is
   * refused with 503 and Retry-After; 0 refuses at once.
   */
  newConnectionMaxWaitMs: number;
  /** Which proxies may name the client in X-Forwarded-For. */
  proxyTrust: ProxyTrust;
  /** Counts refusals by reason (metrics). */
  onRefused: (reason: string) => void;
  /** Monotonic milliseconds (tests); default the process clock. */
  now?: () => number;
};

export type Refusal = {
  code: ErrorCode;
  message: string;
  /** When a retry is likely to be admitted (the `Retry-After` header), for a refusal by the rate. */
  retryAfterSeconds?: number;
};

/** A new connection may open after `waitMs` (0: now; its slot of the rate is reserved), or is refused. */
export type AdmissionDecision = { admitted: true; waitMs: number } | ({ admitted: false } & Refusal);

/**
 * Who may open a connection now, whatever its transport: none while draining, at most so many per client
 * address, at most so many new ones per second across the connector.
 */
export class Admission {
  private readonly perIp = new Map<string, number>();
  private readonly newConnections: TokenBucket;

  constructor(private readonly options: AdmissionOptions) {
    this.newConnections = new TokenBucket(
      options.maxNewConnectionsPerSecond,
      options.maxNewConnectionsPerSecond,
      ...(options.now ? [options.now] : []),
    );
  }

  get accepting(): boolean {
    return this.options.accepting();
  }

  /** The client's address, as the trusted proxies name it. */
  addressOf(request: IncomingMessage): string {
    return clientAddress(
      request.socket.remoteAddress,
      request.headers["x-forwarded-for"],
      this.options.proxyTrust,
    );
  }

  /**
   * Whether a new connection from `ip` may open. Past the rate it waits its turn, up to
   * `newConnectionMaxWaitMs`, so a reconnect storm is spread over time rather than refused and retried.
   */
  admit(ip: string): AdmissionDecision {
    if (!this.options.accepting()) {
      return { admitted: false, code: ErrorCode.Unavailable, message: "connector is draining; reconnect" };
    }
    if ((this.perIp.get(ip) ?? 0) >= this.options.maxConnectionsPerIp) {
      this.options.onRefused("ip_limit");
      return {
        admitted: false,
        code: ErrorCode.TooManyConnections,
        message: `at most ${this.options.maxConnectionsPerIp} connections per address`,
      };
    }
    const maxWaitMs = this.options.newConnectionMaxWaitMs;
    const waitMs = this.newConnections.reserve(maxWaitMs);
    if (waitMs !== undefined) return { admitted: true, waitMs };
    this.options.onRefused("rate_limit");
    // A retry after this long finds a queue it may join.
    const backlogMs = this.newConnections.msUntil(1) - maxWaitMs;
    return {
      admitted: false,
      code: ErrorCode.TooManyNewConnections,
      message: "too many new connections right now; retry shortly",
      retryAfterSeconds: Math.max(1, Math.ceil(backlogMs / 1000)),
    };
  }

  /** Counts an open connection against `ip` until the returned slot is released, when it closes. */
  hold(ip: string): AdmissionSlot {
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    return new AdmissionSlot(this, ip);
  }

  /** Through `AdmissionSlot.release`, which calls it once per slot. */
  release(ip: string): void {
    const left = (this.perIp.get(ip) ?? 1) - 1;
    if (left > 0) this.perIp.set(ip, left);
    else this.perIp.delete(ip);
  }

  /** Counts a refused token (metrics). */
  refusedToken(expired: boolean): void {
    this.options.onRefused(expired ? "expired" : "invalid");
  }
}

/** One open connection counted against its address; `release` lets it go (once: later calls do nothing). */
export class AdmissionSlot {
  private held = true;

  constructor(
    private readonly admission: Admission,
    private readonly ip: string,
  ) {}

  release(): void {
    if (!this.held) return;
    this.held = false;
    this.admission.release(this.ip);
  }
}
