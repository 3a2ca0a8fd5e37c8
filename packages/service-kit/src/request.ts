import { type ErrorCode, HeraldError, isApiError } from "@herald/protocol";
import type { NatsConnection } from "@nats-io/transport-node";
import type { z } from "zod";

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

export type RequestJsonOptions = { timeoutMs: number };

const encoder = new TextEncoder();

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
  { timeoutMs }: RequestJsonOptions,
): Promise<z.output<S>> {
  const reply = await nc.request(subject, encoder.encode(JSON.stringify(body)), { timeout: timeoutMs });
  const value: unknown = reply.json();
  if (isApiError(value)) {
    throw new ApiRefusedError(subject, value.error.code as ErrorCode, value.error.message);
  }
  return schema.parse(value);
}
