import { BlockList, isIP } from "node:net";

/**
 * Which hops in front of the connector are trusted to write `X-Forwarded-For`: none (the socket's peer is
 * the client), a number of proxies, or the proxies' address ranges.
 */
export type ProxyTrust =
  | { kind: "none" }
  | { kind: "hops"; hops: number }
  | { kind: "cidrs"; list: BlockList; ranges: string[] };

export const NO_PROXY: ProxyTrust = { kind: "none" };

/**
 * Parses `HERALD_TRUSTED_PROXIES`: empty (none), a hop count (`1` behind one ingress), or a comma-separated
 * list of addresses and CIDR ranges (`10.0.0.0/8,fd00::/8`). Returns every problem found, not just the first.
 *
 * @example
 * parseTrustedProxies("2") // { trust: { kind: "hops", hops: 2 }, problems: [] }
 */
export function parseTrustedProxies(text: string): { trust: ProxyTrust; problems: string[] } {
  const value = text.trim();
  if (value === "" || value === "0") return { trust: NO_PROXY, problems: [] };
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    return hops <= 32
      ? { trust: { kind: "hops", hops }, problems: [] }
      : { trust: NO_PROXY, problems: [`a hop count of ${hops} is not plausible (at most 32)`] };
  }
  const list = new BlockList();
  const ranges: string[] = [];
  const problems: string[] = [];
  for (const entry of value.split(",").map((part) => part.trim())) {
    const [address = "", prefix, extra] = entry.split("/");
    const family = isIP(address);
    const bits = family === 6 ? 128 : 32;
    const length = prefix === undefined ? bits : Number(prefix);
    if (family === 0 || extra !== undefined || !Number.isInteger(length) || length < 0 || length > bits) {
      problems.push(`'${entry}' is not an address or CIDR range like 10.0.0.0/8 or fd00::/8`);
      continue;
    }
    list.addSubnet(address, length, family === 6 ? "ipv6" : "ipv4");
    ranges.push(entry);
  }
  return { trust: problems.length > 0 ? NO_PROXY : { kind: "cidrs", list, ranges }, problems };
}

/** `::ffff:10.1.2.3` (how a dual-stack socket reports IPv4 peers) as `10.1.2.3`. */
function plain(address: string): string {
  return address.startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/**
 * The client's address. The hops are the `X-Forwarded-For` entries followed by the socket's peer; each proxy
 * appends the address it received from, so only entries right of the first untrusted hop can be believed, and
 * the client is the right-most hop that is not a trusted proxy. Entries further left are written by the client
 * and are never used. An entry that is not an IP address ends the walk at the hop to its right.
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | string[] | undefined,
  trust: ProxyTrust,
): string {
  const socketPeer = plain(peer ?? "unknown");
  if (trust.kind === "none" || forwardedFor === undefined) return socketPeer;
  const header = Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor;
  const hops = [...header.split(",").map((entry) => plain(entry.trim())), socketPeer];
  let index = hops.length - 1;
  if (trust.kind === "hops") {
    // Behind `hops` proxies the client is that many hops left of the peer (or the furthest one there is).
    index = Math.max(0, hops.length - 1 - trust.hops);
  } else {
    while (index > 0 && isTrusted(hops[index]!, trust.list)) index--;
  }
  for (; index < hops.length - 1; index++) if (isIP(hops[index]!) !== 0) break;
  return hops[index]!;
}

function isTrusted(address: string, list: BlockList): boolean {
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 6 ? "ipv6" : "ipv4");
}
