import { ConfigError } from "@herald/service-kit";
import { describe, expect, it } from "vitest";
import { CONNECTOR_HEAP_GROWTH_PERCENT, loadConfig, proxyTrust } from "./config.js";

const KEY = "k".repeat(32);
const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe("connector config", () => {
  it("has the documented defaults for tokens, proxies, timeouts and send budgets", () => {
    const config = loadConfig({ HERALD_JWT_SECRET: KEY });
    expect(config).toMatchObject({
      HERALD_MAX_TOKEN_LIFETIME: 24 * 3_600_000,
      HERALD_HEADERS_TIMEOUT: 10_000,
      HERALD_REQUEST_TIMEOUT: 30_000,
      HERALD_JWKS_CACHE_MAX_AGE: 600_000,
      HERALD_JWKS_MAX_STALE: 6 * 3_600_000,
      HERALD_MAX_BUFFERED_BYTES_PER_USER: 16 * 1024 * 1024,
      HERALD_MAX_BUFFERED_BYTES_TOTAL: 256 * 1024 * 1024,
    });
    expect(config.HERALD_JWT_SECRETS.size).toBe(0);
    expect(proxyTrust(config)).toEqual({ kind: "none" });
  });

  it("bounds the heap's growth by default; 0 leaves it to V8, a negative or fractional one is refused", () => {
    expect(loadConfig({ HERALD_JWT_SECRET: KEY }).HERALD_HEAP_GROWTH_PERCENT).toBe(
      CONNECTOR_HEAP_GROWTH_PERCENT,
    );
    expect(CONNECTOR_HEAP_GROWTH_PERCENT).toBeGreaterThan(0);
    expect(
      loadConfig({ HERALD_JWT_SECRET: KEY, HERALD_HEAP_GROWTH_PERCENT: "0" }).HERALD_HEAP_GROWTH_PERCENT,
    ).toBe(0);
    expect(problemsOf({ HERALD_JWT_SECRET: KEY, HERALD_HEAP_GROWTH_PERCENT: "-5" })).toHaveLength(1);
    expect(problemsOf({ HERALD_JWT_SECRET: KEY, HERALD_HEAP_GROWTH_PERCENT: "12.5" })).toHaveLength(1);
  });

  it("serves SSE and leaves WebSocket compression off by default; a zero ticket TTL is refused", () => {
    expect(loadConfig({ HERALD_JWT_SECRET: KEY })).toMatchObject({
      HERALD_SSE_ENABLED: true,
      HERALD_SSE_TICKET_TTL: 30_000,
      HERALD_SSE_MAX_TICKETS: 10_000,
      HERALD_WS_COMPRESSION: false,
      HERALD_WS_COMPRESSION_THRESHOLD: 1_024,
    });
    expect(problemsOf({ HERALD_JWT_SECRET: KEY, HERALD_SSE_TICKET_TTL: "0s" })).toEqual([
      "HERALD_SSE_TICKET_TTL: HERALD_SSE_TICKET_TTL must be > 0",
    ]);
  });

  it("listens with a backlog of 4096 unless told, and refuses a backlog that is not a positive integer", () => {
    expect(loadConfig({ HERALD_JWT_SECRET: KEY }).HERALD_LISTEN_BACKLOG).toBe(4_096);
    expect(loadConfig({ HERALD_JWT_SECRET: KEY, HERALD_LISTEN_BACKLOG: "511" }).HERALD_LISTEN_BACKLOG).toBe(
      511,
    );
    expect(problemsOf({ HERALD_JWT_SECRET: KEY, HERALD_LISTEN_BACKLOG: "0" })).toHaveLength(1);
    expect(problemsOf({ HERALD_JWT_SECRET: KEY, HERALD_LISTEN_BACKLOG: "lots" })[0]).toMatch(
      /^HERALD_LISTEN_BACKLOG/,
    );
  });

  it("refuses HS256 keys under 32 bytes, counting bytes rather than characters", () => {
    expect(problemsOf({ HERALD_JWT_SECRET: "x".repeat(31) })).toEqual([
      "HERALD_JWT_SECRET: HERALD_JWT_SECRET must be at least 32 bytes",
    ]);
    // 16 characters of 2 bytes each.
    expect(problemsOf({ HERALD_JWT_SECRET: "é".repeat(16) })).toEqual([]);
  });

  it("reads several HS256 keys by kid, and lists every bad entry", () => {
    const config = loadConfig({ HERALD_JWT_SECRETS: `2026-05=${KEY},2026-06=${"m".repeat(40)}=` });
    expect([...config.HERALD_JWT_SECRETS]).toEqual([
      ["2026-05", KEY],
      ["2026-06", `${"m".repeat(40)}=`],
    ]);
    const problems = problemsOf({
      HERALD_JWT_SECRETS: `a=${KEY},a=${KEY},short=abc,no-key-here,bad kid=${KEY}`,
    });
    expect(problems).toHaveLength(4);
    expect(problems.join("\n")).toMatch(/kid 'a' appears twice/);
    expect(problems.join("\n")).toMatch(/kid 'short' must be at least 32 bytes/);
    expect(problems.every((p) => p.startsWith("HERALD_JWT_SECRETS: "))).toBe(true);
  });

  it("needs some key: a secret, keys by kid, or a JWKS", () => {
    expect(problemsOf({})).toEqual([
      "HERALD_JWT_SECRET: set HERALD_JWT_SECRET or HERALD_JWT_SECRETS (HS256), or HERALD_JWKS_URL",
    ]);
    expect(problemsOf({ HERALD_JWT_SECRETS: `k=${KEY}` })).toEqual([]);
  });

  it("wants an audience with a JWKS, and https unless the host is loopback or http is allowed", () => {
    const jwks = (url: string, extra: Record<string, string> = {}) =>
      problemsOf({ HERALD_JWKS_URL: url, HERALD_JWT_AUDIENCE: "herald", ...extra });
    expect(jwks("https://id.example.com/jwks.json")).toEqual([]);
    expect(jwks("http://127.0.0.1:9/jwks.json")).toEqual([]);
    expect(jwks("http://localhost:9/jwks.json")).toEqual([]);
    expect(jwks("http://[::1]:9/jwks.json")).toEqual([]);
    expect(jwks("http://id.example.com/jwks.json")).toEqual([
      expect.stringMatching(/^HERALD_JWKS_URL: must be https:/),
    ]);
    expect(jwks("http://id.example.com/jwks.json", { HERALD_JWKS_ALLOW_HTTP: "true" })).toEqual([]);
    expect(problemsOf({ HERALD_JWKS_URL: "https://id.example.com/jwks.json" })).toEqual([
      expect.stringMatching(/^HERALD_JWT_AUDIENCE: is required with HERALD_JWKS_URL/),
    ]);
  });

  it("lists single-variable and cross-variable problems of one start together", () => {
    const problems = problemsOf({
      HERALD_JWT_SECRET: "too-short",
      HERALD_JWKS_URL: "http://id.example.com/jwks.json",
      HERALD_TRUSTED_PROXIES: "10.0.0.0/33",
      HERALD_MAX_TOKEN_LIFETIME: "forever",
    });
    expect(problems.map((p) => p.split(":")[0]).sort()).toEqual([
      "HERALD_JWKS_URL",
      "HERALD_JWT_AUDIENCE",
      "HERALD_JWT_SECRET",
      "HERALD_MAX_TOKEN_LIFETIME",
      "HERALD_TRUSTED_PROXIES",
    ]);
  });

  it("reads trusted proxies as a hop count or CIDR ranges; HERALD_TRUST_PROXY=true is one hop", () => {
    const trust = (env: Record<string, string>) => proxyTrust(loadConfig({ HERALD_JWT_SECRET: KEY, ...env }));
    expect(trust({ HERALD_TRUSTED_PROXIES: "2" })).toEqual({ kind: "hops", hops: 2 });
    expect(trust({ HERALD_TRUSTED_PROXIES: "10.0.0.0/8, fd00::/8,192.0.2.1" })).toMatchObject({
      kind: "cidrs",
      ranges: ["10.0.0.0/8", "fd00::/8", "192.0.2.1"],
    });
    expect(trust({ HERALD_TRUST_PROXY: "true" })).toEqual({ kind: "hops", hops: 1 });
    expect(
      problemsOf({ HERALD_JWT_SECRET: KEY, HERALD_TRUSTED_PROXIES: "10.0.0.0/8,nope,1.2.3.4/40" }),
    ).toEqual([
      "HERALD_TRUSTED_PROXIES: 'nope' is not an address or CIDR range like 10.0.0.0/8 or fd00::/8",
      "HERALD_TRUSTED_PROXIES: '1.2.3.4/40' is not an address or CIDR range like 10.0.0.0/8 or fd00::/8",
    ]);
    expect(
      problemsOf({ HERALD_JWT_SECRET: KEY, HERALD_TRUSTED_PROXIES: "1", HERALD_TRUST_PROXY: "true" }),
    ).toEqual([expect.stringMatching(/^HERALD_TRUST_PROXY: set HERALD_TRUSTED_PROXIES only/)]);
  });

  it("keeps the header timeout within the request timeout", () => {
    expect(
      problemsOf({ HERALD_JWT_SECRET: KEY, HERALD_HEADERS_TIMEOUT: "40s", HERALD_REQUEST_TIMEOUT: "30s" }),
    ).toEqual(["HERALD_HEADERS_TIMEOUT: must not be longer than HERALD_REQUEST_TIMEOUT"]);
    expect(problemsOf({ HERALD_JWT_SECRET: KEY, HERALD_MAX_TOKEN_LIFETIME: "0s" })).toEqual([
      "HERALD_MAX_TOKEN_LIFETIME: HERALD_MAX_TOKEN_LIFETIME must be > 0",
    ]);
  });
});
