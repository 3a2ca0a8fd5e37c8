/**
 * A string's UTF-8 bytes for a NATS payload. `Buffer.from` takes a slice of Node's shared pool; `TextEncoder`
 * allocates a backing store per call, which cost about a microsecond of each publish on the message path
 * (bench/README.md, "Strings encoded into Buffer's pool"). Same bytes as `TextEncoder.encode`, lone surrogates
 * included. A slice keeps its pool chunk (8 KiB) alive, so hold these only while they are being published.
 */
export function utf8(text: string): Uint8Array {
  return Buffer.from(text, "utf8");
}
