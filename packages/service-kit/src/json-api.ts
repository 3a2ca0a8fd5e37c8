import { type ApiErrorReply, ErrorCode, HeraldError } from "@herald/protocol";
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import type { z } from "zod";
import type { Logger } from "./logger.js";

/**
 * Serves a JSON request/reply API on a queue group: every reply is JSON, and a request that fails gets
 * `{"error":{"code","message"}}` instead of silence.
 */
export function serveJson(
  nc: NatsConnection,
  subject: string,
  queue: string,
  logger: Logger,
  handle: (request: unknown) => Promise<unknown>,
): Subscription {
  const encoder = new TextEncoder();
  return nc.subscribe(subject, {
    queue,
    callback: (err, msg) => {
      if (err) {
        logger.warn({ err, subject }, "api subscription error");
        return;
      }
      void respond(msg);
    },
  });

  async function respond(msg: Msg): Promise<void> {
    let reply: unknown;
    try {
      reply = await handle(parse(msg));
    } catch (err) {
      const error = HeraldError.fromUnknown(err);
      if (error.code === "internal") logger.error({ err, subject }, "api request failed");
      reply = { error: error.toJSON() } satisfies ApiErrorReply;
    }
    if (msg.reply) msg.respond(encoder.encode(JSON.stringify(reply)));
  }
}

function parse(msg: Msg): unknown {
  try {
    return msg.json();
  } catch {
    throw new HeraldError("invalid_json", "request body is not JSON");
  }
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
