import { Match, type Msg, type MsgHdrs, MsgImpl } from "@nats-io/transport-node";

/** The header lookups a live message needs: `MsgHdrs.get` (exact name, first value, "" when absent). */
export interface HeaderValues {
  get(name: string): string;
  /** The first value of `name` in any letter case ("" when absent); `name` is given in lowercase. */
  getIgnoreCase(name: string): string;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** `\r\n<name>:` per name looked up (a handful), so a lookup allocates no search key. */
const searchKeys = new Map<string, string>();
/** The same, in any letter case. */
const ignoreCaseKeys = new Map<string, RegExp>();

/** V8 keeps a slice of this many characters or more as a view into the string it was cut from. */
const SHARED_SLICE_LENGTH = 13;

/**
 * Header values found in the raw header block when asked for, first value per exact name (as `MsgHdrs` does):
 * a live message is asked for four of its headers, so nothing is split or stored per header.
 */
class RawHeaders implements HeaderValues {
  constructor(
    private readonly block: string,
    /** The block's bytes, as `block` was decoded from. */
    private readonly bytes: Uint8Array,
  ) {}

  get(name: string): string {
    let key = searchKeys.get(name);
    if (key === undefined) {
      key = `\r\n${name}:`;
      if (searchKeys.size < 64) searchKeys.set(name, key);
    }
    // `NATS/1.0[ status]\r\nName: value\r\n...\r\n\r\n`: a name starts a line (never the status line).
    const at = this.block.indexOf(key);
    if (at < 0) return "";
    return this.value(at + key.length);
  }

  getIgnoreCase(name: string): string {
    let pattern = ignoreCaseKeys.get(name);
    if (pattern === undefined) {
      pattern = new RegExp(`\\r\\n${name.replace(/[^a-z0-9]/g, "\\$&")}:`, "i");
      if (ignoreCaseKeys.size < 64) ignoreCaseKeys.set(name, pattern);
    }
    const found = pattern.exec(this.block);
    if (!found) return "";
    return this.value(found.index + found[0].length);
  }

  /**
   * The trimmed value from `from` to the line's end, as a string of its own. A longer slice would keep the
   * whole block alive as long as the value: the id and the `traceparent` stay in the in-flight map until the
   * device's ack is stored (bench/README.md, "Header values that pinned their block").
   */
  private value(from: number): string {
    const end = this.block.indexOf("\r\n", from);
    const value = this.block.slice(from, end < 0 ? undefined : end).trim();
    if (value.length < SHARED_SLICE_LENGTH) return value;
    // One character per byte (ASCII, as headers are): the value is decoded again from its own bytes.
    if (this.block.length === this.bytes.length) {
      const start = this.block.indexOf(value, from);
      return decoder.decode(this.bytes.subarray(start, start + value.length));
    }
    return decoder.decode(encoder.encode(value));
  }
}

/** `MsgHdrs` behind `HeaderValues`, for a message whose raw block the client does not expose. */
class DecodedHeaders implements HeaderValues {
  constructor(private readonly headers: MsgHdrs) {}

  get(name: string): string {
    return this.headers.get(name);
  }

  getIgnoreCase(name: string): string {
    return this.headers.get(name, Match.IgnoreCase);
  }
}

/**
 * A live message's headers. Every live message carries the six RePublish adds, and the client's own decoder
 * (`msg.headers`) builds a `Map` of arrays with a canonical-name check per header: about 2 µs of CPU and most
 * of the garbage per message on the connector's hottest path. So the raw block is read directly when the
 * client exposes it (its `MsgImpl`), and through `msg.headers` otherwise.
 */
export function liveHeaders(msg: Msg): HeaderValues | undefined {
  if (!(msg instanceof MsgImpl)) return msg.headers && new DecodedHeaders(msg.headers);
  const length = msg._msg.hdr;
  if (!(length > 0)) return undefined;
  const bytes = msg._rdata.subarray(0, length);
  return new RawHeaders(decoder.decode(bytes), bytes);
}
