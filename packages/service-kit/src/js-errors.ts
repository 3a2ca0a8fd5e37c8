import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";

/** The server's JetStream error code, when `err` carries one (the library's error type, or a look-alike). */
export function jetStreamCode(err: unknown): number | undefined {
  if (err instanceof JetStreamApiError) return err.code;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

/**
 * A compare-and-set write lost: someone else wrote first (`Nats-Expected-Last-Subject-Sequence`,
 * `kv.update`, `kv.create` on an existing key).
 */
export function isWrongLastSequence(err: unknown): boolean {
  const code = jetStreamCode(err);
  if (code === JetStreamApiCodes.StreamWrongLastSequence) return true;
  // kv.create reports an existing key as a plain Error with no code.
  return code === undefined && err instanceof Error && /wrong last sequence|key exists/i.test(err.message);
}

/** JetStream's "stream store failed" and "message size exceeds maximum allowed" (numbers the library does not name). */
const STORE_FAILED = 10077;
const MESSAGE_TOO_LARGE = 10054;

/** A publish refused because its subject holds `max_msgs_per_subject` messages (`discard_new_per_subject`). */
export function isSubjectFull(err: unknown): boolean {
  return (
    jetStreamCode(err) === STORE_FAILED &&
    err instanceof Error &&
    /maximum messages per subject/i.test(err.message)
  );
}

/** A publish refused by the stream's `max_msg_size`. */
export const isMessageTooLarge = (err: unknown): boolean => jetStreamCode(err) === MESSAGE_TOO_LARGE;

export const isConsumerNotFound = (err: unknown): boolean =>
  jetStreamCode(err) === JetStreamApiCodes.ConsumerNotFound;

export const isStreamNotFound = (err: unknown): boolean =>
  jetStreamCode(err) === JetStreamApiCodes.StreamNotFound;

/** "Stream name already in use": a create that lost a race (the library names no constant for it). */
const STREAM_NAME_IN_USE = 10058;

export const isStreamNameInUse = (err: unknown): boolean => jetStreamCode(err) === STREAM_NAME_IN_USE;

/**
 * JetStream's answers from a cluster still forming: "no suitable peers for placement" (the meta leader does not
 * know enough servers yet), "system temporarily unavailable" (no meta leader) and "cluster can not handle
 * request" (this server lost its leader). The library names no constants for them.
 */
const CLUSTER_FORMING = new Set([10005, 10008, 10009]);

export const isClusterForming = (err: unknown): boolean => CLUSTER_FORMING.has(jetStreamCode(err) ?? 0);
