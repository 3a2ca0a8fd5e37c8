import { type Msg, MsgImpl } from "@nats-io/transport-node";

/** The header lookups a live message needs: `MsgHdrs.get` (exact name, first value, "" when absent). */
export interface HeaderValues {
  get(name: string): string;
}

const decoder = new TextDecoder();

/** Header values read straight from the raw header block, first value per exact name (as `MsgHdrs` does). */
class RawHeaders implements HeaderValues {
  private readonly values: Record<string, string> = Object.create(null);

  constructor(block: string) {
    // `NATS/1.0[ status]\r\nName: value\r\n...\r\n\r\n`: the status line is skipped, as are lines with no colon.
    for (let at = block.indexOf("\r\n"); at >= 0; ) {
      const end = block.indexOf("\r\n", at + 2);
      const line = block.slice(at + 2, end < 0 ? undefined : end);
      const colon = line.indexOf(":");
      if (colon > 0) {
        const name = line.slice(0, colon);
        if (this.values[name] === undefined) this.values[name] = line.slice(colon + 1).trim();
      }
      at = end;
    }
  }

  get(name: string): string {
    return this.values[name] ?? "";
  }
}

/**
 * A live message's headers. Every live message carries the six RePublish adds, and the client's own decoder
 * (`msg.headers`) builds a `Map` of arrays with a canonical-name check per header: about 2 µs of CPU and most
 * of the garbage per message on the connector's hottest path. So the raw block is read directly when the
 * client exposes it (its `MsgImpl`), and through `msg.headers` otherwise.
 */
export function liveHeaders(msg: Msg): HeaderValues | undefined {
  if (!(msg instanceof MsgImpl)) return msg.headers;
  const length = msg._msg.hdr;
  if (!(length > 0)) return undefined;
  return new RawHeaders(decoder.decode(msg._rdata.subarray(0, length)));
}
