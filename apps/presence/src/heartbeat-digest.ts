import { createHash } from "node:crypto";

/** What identifies one heartbeat part without parsing it, and a digest of everything it lists. */
export type HeartbeatDigest = {
  connectorId: string;
  bootId: string;
  seq: number;
  part: number;
  parts: number;
  /** SHA-1 of the report's bytes up to `,"seq":` (type, connections, interval, part numbers, ids). */
  digest: string;
};

const HEAD = new TextEncoder().encode('{"type":"heartbeat","connections":[');
const SEQ = new TextEncoder().encode(',"seq":');
const TAIL =
  /,"intervalMs":\d+,(?:"part":(\d+),"parts":(\d+),)?"connectorId":"([A-Za-z0-9_-]+)","bootId":"([^"\\]+)","seq":(\d+)\}$/;
const decoder = new TextDecoder();
/** Below this size parsing is cheap, and a digest would not pay for itself. */
const MIN_BYTES = 16 * 1024;

/**
 * Recognises a large heartbeat part as the connector serializes it (`PresenceReporter`: `type` and
 * `connections` first, `seq` last) and digests it, so a part whose bytes equal the same part of the previous
 * heartbeat can be applied without parsing tens of thousands of entries. Anything else (another key order,
 * a small report) gives `undefined` and is parsed as usual.
 *
 * @example
 * const d = digestHeartbeat(msg.data); // { connectorId, bootId, seq, part, parts, digest } | undefined
 */
export function digestHeartbeat(data: Uint8Array): HeartbeatDigest | undefined {
  if (data.length < MIN_BYTES) return undefined;
  for (let i = 0; i < HEAD.length; i++) if (data[i] !== HEAD[i]) return undefined;
  const seqAt = lastIndexOf(data, SEQ, data.length - 32);
  if (seqAt < 0) return undefined;
  const match = TAIL.exec(decoder.decode(data.subarray(Math.max(0, data.length - 400))));
  if (!match) return undefined;
  const [, part, parts, connectorId, bootId, seq] = match;
  if (connectorId === undefined || bootId === undefined || seq === undefined) return undefined;
  return {
    connectorId,
    bootId,
    seq: Number(seq),
    part: part === undefined ? 0 : Number(part),
    parts: parts === undefined ? 1 : Number(parts),
    digest: createHash("sha1").update(data.subarray(0, seqAt)).digest("base64"),
  };
}

/** Last index of `needle` in `data` at or after `from`, or -1. */
function lastIndexOf(data: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = data.length - needle.length; i >= Math.max(0, from); i--) {
    for (let j = 0; j < needle.length; j++) if (data[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
