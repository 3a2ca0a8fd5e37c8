/**
 * A string's UTF-8 bytes, where the bytes themselves are needed: their length checked against a limit, or one
 * encoding sent more than once. A payload published once goes to the NATS client as a string, which the
 * nats-core patch encodes the same way. `Buffer.from` takes a slice of Node's shared pool; `TextEncoder`
 * allocates a backing store per call, about a microsecond of each publish on the message path (bench/README.md,
 * "Strings encoded into Buffer's pool"). Same bytes as `TextEncoder.encode`, lone surrogates included. A slice
 * keeps its pool chunk (8 KiB) alive, so hold these only while they are being published.
 */
export function utf8(text: string): Uint8Array {
  return Buffer.from(text, "utf8");
}
