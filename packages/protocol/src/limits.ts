/**
 * Limits on what Herald's services parse and send, each defined once. They keep one message that is too deep
 * or too big from overflowing a stack, a NATS payload or a WebSocket close frame.
 */

/**
 * Deepest nesting of arrays and objects accepted in a publish or an API request (the body object counts as 1).
 * `JSON.parse` copes with any depth, but `JSON.stringify`, which routing and every reply use, recurses and
 * overflows the stack a few thousand levels down.
 */
export const MAX_JSON_DEPTH = 64;

/** Longest channel name, in the frames clients send as in every subject built from one. */
export const MAX_CHANNEL_LENGTH = 128;

/** Longest token a client frame may carry (a JWT with generous claims fits many times over). */
export const MAX_TOKEN_LENGTH = 16_384;

/** NATS `max_payload` when the server has not said (its default, 1 MiB). */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/**
 * Bytes kept free below `max_payload` for what wraps a payload: a reply's fields around its messages, a heartbeat's
 * fields around its connections, the headers JetStream adds when it republishes a stored message.
 */
export const PAYLOAD_HEADROOM_BYTES = 1024;

/** Longest WebSocket close reason: a close frame's 125-byte payload less the 2-byte code (RFC 6455 5.5.1). */
export const MAX_CLOSE_REASON_BYTES = 123;

/** How many bytes of a payload fit below `maxPayload` with the headroom kept free (never below 1 KiB). */
export function payloadBudget(maxPayload: number): number {
  return Math.max(1024, maxPayload - PAYLOAD_HEADROOM_BYTES);
}

/**
 * True when JSON text nests arrays or objects deeper than `max`. A single pass over the bytes that skips
 * strings; it does not validate (JSON.parse does that after), so it costs far less than parsing.
 *
 * @example
 * jsonDeeperThan(new TextEncoder().encode('[[["a]"]]]'), 2) // true
 */
export function jsonDeeperThan(bytes: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (inString) {
      if (b === 0x5c)
        i++; // a backslash: the next byte is escaped
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) {
      inString = true;
    } else if (b === 0x7b || b === 0x5b) {
      if (++depth > max) return true;
    } else if (b === 0x7d || b === 0x5d) {
      depth--;
    }
  }
  return false;
}

/** UTF-8 length of one code point. */
function utf8Length(codePoint: number): number {
  return codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
}

/** Bytes of `text` in UTF-8 (lone surrogates count as the 3-byte U+FFFD they are encoded as). */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (const ch of text) bytes += utf8Length(ch.codePointAt(0)!);
  return bytes;
}

/**
 * `text` made well-formed and cut to at most `maxBytes` of UTF-8, on a code point boundary (never half a
 * character).
 *
 * @example
 * truncateUtf8("é".repeat(62), 123) // "é" × 61 (122 bytes)
 */
export function truncateUtf8(text: string, maxBytes: number): string {
  const wellFormed = text.toWellFormed();
  // Fast path: even at 3 bytes per UTF-16 unit (the most any unit costs) it fits.
  if (wellFormed.length * 3 <= maxBytes) return wellFormed;
  let bytes = 0;
  let end = 0;
  for (const ch of wellFormed) {
    const size = utf8Length(ch.codePointAt(0)!);
    if (bytes + size > maxBytes) break;
    bytes += size;
    end += ch.length;
  }
  return wellFormed.slice(0, end);
}

/** A WebSocket close reason that `ws.close()` accepts: at most `MAX_CLOSE_REASON_BYTES`, cut on a character. */
export function closeReason(reason: string): string {
  return truncateUtf8(reason, MAX_CLOSE_REASON_BYTES);
}
