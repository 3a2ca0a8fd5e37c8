import {
  type ApiErrorReply,
  DEFAULT_MAX_PAYLOAD,
  ErrorCode,
  HeraldError,
  jsonDeeperThan,
  MAX_JSON_DEPTH,
} from "@herald/protocol";
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { Counter, type Registry } from "prom-client";
import type { Logger } from "./logger.js";
import { utf8 } from "./utf8.js";

/**
 * Where the failures of NATS handlers go: logged and counted, never thrown back into the NATS client. A throw
 * inside a subscription callback unwinds into the client's protocol parser and stops it reading, so every
 * delivery on that connection stalls; a rejection nobody handles ends the process.
 */
export type HandlerGuard = {
  logger: Logger;
  /** `herald_handler_errors_total{handler, code}`: requests answered with an error, and handler failures. */
  errors: Counter<"handler" | "code">;
};

const ERRORS_METRIC = "herald_handler_errors_total";

/** One guard per service (the counter is registered once per registry). */
export function createHandlerGuard(logger: Logger, registry: Registry): HandlerGuard {
  const existing = registry.getSingleMetric(ERRORS_METRIC) as Counter<"handler" | "code"> | undefined;
  const errors =
    existing ??
    new Counter({
      name: ERRORS_METRIC,
      help: "NATS handler errors: requests answered with an error, and failures caught in a handler, by code",
      labelNames: ["handler", "code"] as const,
      registers: [registry],
    });
  return { logger, errors };
}

/** The stable code of a thrown value: its string `code`, else `internal`. */
export function errorCodeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[a-z0-9_]{1,64}$/.test(code) ? code : ErrorCode.Internal;
}

/** Logs and counts a failure caught at a handler's boundary. */
export function reportFailure(guard: HandlerGuard, handler: string, err: unknown): void {
  guard.errors.inc({ handler, code: errorCodeOf(err) });
  guard.logger.error({ err, handler }, "NATS handler failed; it goes on with the next message");
}

/** Runs `fn`; whatever it throws, or its promise rejects with, is reported and goes no further. */
export function runGuarded(guard: HandlerGuard, handler: string, fn: () => unknown): void {
  try {
    const result = fn();
    if (result instanceof Promise) result.catch((err: unknown) => reportFailure(guard, handler, err));
  } catch (err) {
    reportFailure(guard, handler, err);
  }
}

/**
 * `nc.subscribe` with a callback that never throws into the NATS client: `onMessage` failures, sync or async,
 * are logged and counted under `handler`, and the subscription goes on.
 *
 * @example
 * subscribeGuarded(nc, s.controlDisconnect, guard, "control.disconnect", (msg) => handle(msg));
 */
export function subscribeGuarded(
  nc: NatsConnection,
  subject: string,
  guard: HandlerGuard,
  handler: string,
  onMessage: (msg: Msg) => unknown,
  options: { queue?: string } = {},
): Subscription {
  return nc.subscribe(subject, {
    ...options,
    callback: (err, msg) => {
      if (err) {
        guard.logger.warn({ err, subject }, "subscription error");
        return;
      }
      runGuarded(guard, handler, () => onMessage(msg));
    },
  });
}

/** The connected server's `max_payload`: the most one NATS message (payload and headers) may hold. */
export function maxPayload(nc: NatsConnection): number {
  return nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
}

const decoder = new TextDecoder();

const errorBody = (error: HeraldError): Uint8Array =>
  utf8(JSON.stringify({ error: error.toJSON() } satisfies ApiErrorReply));

/**
 * Answers a request with `reply` as JSON, bounded by `max_payload`: an answer that does not fit becomes a
 * `reply_too_large` error reply, so the asker hears why instead of timing out. Never throws.
 */
export function respondJson(
  nc: NatsConnection,
  msg: Msg,
  guard: HandlerGuard,
  handler: string,
  reply: unknown,
): void {
  if (!msg.reply) return;
  let body: Uint8Array;
  try {
    body = utf8(JSON.stringify(reply));
  } catch (err) {
    reportFailure(guard, handler, err);
    body = errorBody(HeraldError.fromUnknown(err));
  }
  const limit = maxPayload(nc);
  if (body.length > limit) {
    const error = new HeraldError(
      ErrorCode.ReplyTooLarge,
      `the answer is ${body.length} bytes, more than one NATS message holds (max_payload ${limit}); ask for less`,
    );
    guard.errors.inc({ handler, code: error.code });
    guard.logger.warn(
      { handler, bytes: body.length, maxPayload: limit },
      "answer too large; error sent instead",
    );
    body = errorBody(error);
  }
  try {
    msg.respond(body);
  } catch (err) {
    // The connection closed meanwhile: the asker times out, as for any lost reply.
    reportFailure(guard, handler, err);
  }
}

/**
 * A request body as JSON, refused with a named error when it nests deeper than `MAX_JSON_DEPTH` (`too_deep`)
 * or is not JSON (`invalid_json`).
 */
export function parseJsonRequest(data: Uint8Array): unknown {
  if (jsonDeeperThan(data, MAX_JSON_DEPTH)) {
    throw new HeraldError(ErrorCode.TooDeep, `request nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
  try {
    return JSON.parse(decoder.decode(data));
  } catch {
    throw new HeraldError(ErrorCode.InvalidJson, "request body is not JSON");
  }
}
