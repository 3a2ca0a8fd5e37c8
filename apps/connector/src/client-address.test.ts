import { describe, expect, it } from "vitest";
import { clientAddress, NO_PROXY, parseTrustedProxies } from "./client-address.js";

const trust = (text: string) => {
  const { trust, problems } = parseTrustedProxies(text);
  expect(problems).toEqual([]);
  return trust;
};

describe("clientAddress", () => {
  it("is the socket's peer when no proxy is trusted, whatever X-Forwarded-For says", () => {
    expect(clientAddress("192.0.2.7", "198.51.100.1", NO_PROXY)).toBe("192.0.2.7");
    expect(clientAddress("::ffff:192.0.2.7", undefined, trust("1"))).toBe("192.0.2.7");
  });

  it("behind N hops takes the entry N hops left of the peer, never a client-written one further left", () => {
    expect(clientAddress("10.0.0.5", "198.51.100.1, 203.0.113.9", trust("1"))).toBe("203.0.113.9");
    expect(clientAddress("10.0.0.5", "198.51.100.1, 203.0.113.9, 10.0.0.4", trust("2"))).toBe("203.0.113.9");
    // Two header lines count as one list.
    expect(clientAddress("10.0.0.5", ["198.51.100.1", "203.0.113.9"], trust("1"))).toBe("203.0.113.9");
    // Fewer entries than hops: the furthest there is.
    expect(clientAddress("10.0.0.5", "203.0.113.9", trust("3"))).toBe("203.0.113.9");
  });

  it("with CIDR ranges takes the right-most address that is not a trusted proxy", () => {
    const ranges = trust("10.0.0.0/8, fd00::/8");
    expect(clientAddress("10.0.0.5", "198.51.100.1, 203.0.113.9, 10.1.2.3", ranges)).toBe("203.0.113.9");
    expect(clientAddress("fd00::1", "2001:db8::7", ranges)).toBe("2001:db8::7");
    // A peer outside the ranges is the client itself: its header is not believed.
    expect(clientAddress("192.0.2.7", "203.0.113.9", ranges)).toBe("192.0.2.7");
    // Every hop trusted: the left-most.
    expect(clientAddress("10.0.0.5", "10.9.9.9", ranges)).toBe("10.9.9.9");
  });

  it("never returns an entry that is not an address: the hop to its right is used", () => {
    expect(clientAddress("10.0.0.5", "evil, 203.0.113.9", trust("1"))).toBe("203.0.113.9");
    expect(clientAddress("10.0.0.5", "203.0.113.9, garbage", trust("1"))).toBe("10.0.0.5");
    expect(clientAddress("10.0.0.5", "garbage", trust("10.0.0.0/8"))).toBe("10.0.0.5");
  });

  it("parses no trust from empty or 0, and reports every bad range", () => {
    expect(parseTrustedProxies("").trust).toEqual(NO_PROXY);
    expect(parseTrustedProxies("0").trust).toEqual(NO_PROXY);
    expect(parseTrustedProxies("99").problems).toHaveLength(1);
    expect(parseTrustedProxies("10.0.0.0/8,1.2.3/8,::1/129,a/b/c").problems).toHaveLength(3);
  });
});
