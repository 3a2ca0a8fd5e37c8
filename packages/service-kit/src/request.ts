import { type ErrorCode, HeraldError, isApiError } from "@herald/protocol";
import { type NatsConnection, RequestError, TimeoutError } from "@nats-io/transport-node";
import type { z } from "zod";
import { utf8 } from "./utf8.js";

/** A request/reply API answered with `{"error":…}`: the service's code and message, kept. */
export class ApiRefusedError extends HeraldError {
  override name = "ApiRefusedError";
  constructor(
    readonly subject: string,
    code: ErrorCode,
    message: string,
  ) {
    super(code, `${subject} refused: ${code}: ${message}`);
  }
}

export type RequestJsonOptions = {
  /** The whole wait for a reply, retries included. */
  timeoutMs: number;
  /**
   * With no reply after this long, send the request once more and wait for the rest of `timeoutMs`: a request
   * that went to a replica or NATS node as it died is lost, and waiting it out would stall the asker. Only
   * for idempotent reads: the first reply, if it still comes, is dropped.
   */
  retryAfterMs?: number;
};

/**
 * Sends `body` as JSON to a request/reply API (one served by `serveJson`) and returns the reply checked
 * against `schema`. An `{"error":…}` reply rejects with `ApiRefusedError`; no reply in time, or a reply that
 * is not JSON or not of the schema's shape, rejects with the NATS or zod error.
 *
 * @example
 * const page = await requestJson(nc, s.replay, { userId, deviceId, limit }, replayReplySchema, { timeoutMs: 10_000 });
 */
export async function requestJson<S extends z.ZodType>(
  nc: NatsConnection,
  subject: string,
  body: unknown,
  schema: S,
  { timeoutMs, retryAfterMs }: RequestJsonOptions,
): Promise<z.output<S>> {
  const data = utf8(JSON.stringify(body));
  const first = retryAfterMs === undefined ? timeoutMs : Math.min(retryAfterMs, timeoutMs);
  const reply = await nc.request(subject, data, { timeout: first }).catch((error: unknown) => {
    if (first >= timeoutMs || !isRequestTimeout(error)) throw error;
    return nc.request(subject, data, { timeout: timeoutMs - first });
  });
  const value: unknown = reply.json();
  if (isApiError(value)) {
    throw new ApiRefusedError(subject, value.error.code as ErrorCode, value.error.message);
  }
  return schema.parse(value);
}

/** A request that got no reply in time (the client's own error, or a `RequestError` caused by it). */
export function isRequestTimeout(error: unknown): boolean {
  return (
    error instanceof TimeoutError || (error instanceof RequestError && error.cause instanceof TimeoutError)
  );
}
