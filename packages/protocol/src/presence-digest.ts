import type { ConnectionInfo } from "./internal.js";

/** Two independent 32-bit hashes of the same input: together a 64-bit hash. */
type Hash64 = { hi: number; lo: number };

/** Murmur3's finalizer: spreads every input bit over the whole word. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Feeds one string's UTF-16 code units and then its length (so field boundaries count) into both hashes. */
function mix(h: Hash64, value: string): void {
  let { hi, lo } = h;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    hi = Math.imul(hi ^ c, 0x01000193);
    lo = Math.imul(lo ^ c, 0x5bd1e995) ^ (lo >>> 15);
  }
  h.hi = Math.imul(hi ^ value.length, 0x01000193);
  h.lo = Math.imul(lo ^ value.length, 0x5bd1e995) ^ (lo >>> 15);
}

/**
 * A 64-bit hash of everything presence keeps of one connection (id, user, device, since), the same on both
 * ends. Not cryptographic: it only has to make an accidental match of two different sets unlikely (2^-64).
 */
export function connectionHash(
  info: Pick<ConnectionInfo, "connectionId" | "userId" | "deviceId" | "since">,
): Hash64 {
  const h = { hi: 0x811c9dc5, lo: 0x9747b28c };
  mix(h, info.connectionId);
  mix(h, info.userId);
  mix(h, info.deviceId);
  mix(h, String(info.since));
  return { hi: fmix32(h.hi), lo: fmix32(h.lo ^ h.hi) };
}

/**
 * An order-independent digest of a set of connections: their count and the XOR of their `connectionHash`es.
 * Adding and removing a connection are O(1) and inverse of each other, so a connector and presence that
 * applied the same opens and closes hold the same digest whatever the order, and comparing them costs one
 * beat of a few dozen bytes instead of the whole list.
 *
 * @example
 * const d = new ConnectionSetDigest();
 * d.add(info); d.remove(info); d.toString() // "0000000000000000"
 */
export class ConnectionSetDigest {
  count = 0;
  private hi = 0;
  private lo = 0;

  add(info: Parameters<typeof connectionHash>[0]): void {
    this.flip(info);
    this.count++;
  }

  remove(info: Parameters<typeof connectionHash>[0]): void {
    this.flip(info);
    this.count--;
  }

  clear(): void {
    this.count = 0;
    this.hi = 0;
    this.lo = 0;
  }

  /** The XOR of every member's hash, as 16 hex digits (the beat's `hash`). */
  toString(): string {
    return (this.hi >>> 0).toString(16).padStart(8, "0") + (this.lo >>> 0).toString(16).padStart(8, "0");
  }

  /** Whether a beat's `count` and `hash` describe this very set. */
  matches(count: number, hash: string): boolean {
    return count === this.count && hash === this.toString();
  }

  private flip(info: Parameters<typeof connectionHash>[0]): void {
    const h = connectionHash(info);
    this.hi ^= h.hi;
    this.lo ^= h.lo;
  }
}
