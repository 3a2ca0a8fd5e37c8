import { type AckBundle, ackBundleSchema } from "@herald/protocol";

/**
 * An ack bundle from its JSON value, or undefined when it is not one. Every ack passes through here, so the
 * connector's own shape (no other keys) is checked by hand; anything else goes through the schema, which also
 * drops unknown keys. The hand check accepts only what the schema accepts, unchanged.
 */
export function readAckBundle(value: unknown): AckBundle | undefined {
  if (isPlainBundle(value)) return value;
  const parsed = ackBundleSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

type Loose = Record<string, unknown>;

const isObject = (value: unknown): value is Loose =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function keyCount(value: Loose): number {
  let count = 0;
  for (const _ in value) count++;
  return count;
}

function isPlainBundle(value: unknown): value is AckBundle {
  if (!isObject(value) || keyCount(value) !== 1) return false;
  const { batches } = value;
  if (!Array.isArray(batches) || batches.length === 0) return false;
  for (const batch of batches) if (!isPlainBatch(batch)) return false;
  return true;
}

function isPlainBatch(batch: unknown): boolean {
  if (!isObject(batch) || keyCount(batch) !== 4) return false;
  const { userId, deviceId, acks, at } = batch;
  if (typeof userId !== "string" || typeof deviceId !== "string" || typeof at !== "number") return false;
  if (!Number.isFinite(at) || !Array.isArray(acks) || acks.length === 0) return false;
  for (const ack of acks) if (!isPlainAck(ack)) return false;
  return true;
}

function isPlainAck(ack: unknown): boolean {
  if (!isObject(ack)) return false;
  const { id, seq, prev, trace } = ack;
  if (keyCount(ack) !== (trace === undefined ? 3 : 4)) return false;
  if (typeof id !== "string" || !Number.isSafeInteger(seq) || !Number.isSafeInteger(prev)) return false;
  if ((seq as number) <= 0 || (prev as number) < 0) return false;
  return trace === undefined || (typeof trace === "string" && trace.length <= 256);
}
