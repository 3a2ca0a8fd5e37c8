import type { IncomingMessage } from "node:http";
import { ErrorCode } from "@herald/protocol";
import { TokenBucket } from "@herald/service-kit";
import { clientAddress, type ProxyTrust } from "./client-address.js";

export type AdmissionOptions = {
  /** False while draining: new clients are refused (503). */
  accepting: () => boolean;
  maxConnectionsPerIp: number;
  maxNewConnectionsPerSecond: number;
  /** Which proxies may name the client in X-Forwarded-For. */
  proxyTrust: ProxyTrust;
  /** Counts refusals by reason (metrics). */
  onRefused: (reason: string) => void;
};

export type Refusal = { code: ErrorCode; message: string };

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

  /** Why a new connection from `ip` is refused now, or undefined when it may open (and takes a slot of the rate). */
  refusal(ip: string): Refusal | undefined {
    if (!this.options.accepting()) {
      return { code: ErrorCode.Unavailable, message: "connector is draining; reconnect" };
    }
    if ((this.perIp.get(ip) ?? 0) >= this.options.maxConnectionsPerIp) {
      this.options.onRefused("ip_limit");
      return {
        code: ErrorCode.TooManyConnections,
        message: `at most ${this.options.maxConnectionsPerIp} connections per address`,
      };
    }
    if (!this.newConnections.take()) {
      this.options.onRefused("rate_limit");
      return {
        code: ErrorCode.TooManyNewConnections,
        message: "too many new connections right now; retry shortly",
      };
    }
    return undefined;
  }

  /** Counts an open connection against `ip`; the returned function, called once it closes, lets it go. */
  hold(ip: string): () => void {
    this.count(ip);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.release(ip);
    };
  }

  /** Counts an open connection against `ip`; `release(ip)` exactly once when it closes. */
  count(ip: string): void {
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
  }

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
