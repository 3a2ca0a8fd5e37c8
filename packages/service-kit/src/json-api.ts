import { type ApiErrorReply, ErrorCode, HeraldError } from "@herald/protocol";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { z } from "zod";
import { type HandlerGuard, parseJsonRequest, respondJson, subscribeGuarded } from "./guard.js";

/**
 * Serves a JSON request/reply API on a queue group: every reply is JSON and fits one NATS message, a request
 * that fails gets `{"error":{"code","message"}}` instead of silence, and every error is logged and counted
 * (`HandlerGuard`). Nothing a request contains can end the subscription or the process.
 *
 * @example
 * serveJson(nc, s.cursorGet, "persistence", guard, (request) => getCursors(deps, request));
 */
export function serveJson(
  nc: NatsConnection,
  subject: string,
  queue: string,
  guard: HandlerGuard,
  handle: (request: unknown) => Promise<unknown>,
): Subscription {
  return subscribeGuarded(
    nc,
    subject,
    guard,
    subject,
    async (msg) => {
      let reply: unknown;
      try {
        reply = await handle(parseJsonRequest(msg.data));
      } catch (err) {
        const error = HeraldError.fromUnknown(err);
        guard.errors.inc({ handler: subject, code: error.code });
        if (error.code === ErrorCode.Internal) guard.logger.error({ err, subject }, "api request failed");
        else guard.logger.info({ subject, code: error.code, problem: error.message }, "api request refused");
        reply = { error: error.toJSON() } satisfies ApiErrorReply;
      }
      respondJson(nc, msg, guard, subject, reply);
    },
    { queue },
  );
}

/**
 * A request body checked against its schema; anything else becomes an `invalid_request` error (the first
 * problem, or `message` when given), which `serveJson` answers as `{"error":…}`.
 */
export function parseRequest<S extends z.ZodType>(schema: S, input: unknown, message?: string): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new HeraldError(
    ErrorCode.InvalidRequest,
    message ?? parsed.error.issues[0]?.message ?? "invalid request",
  );
}
