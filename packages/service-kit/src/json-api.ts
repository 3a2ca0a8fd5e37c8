import { type ApiErrorReply, ErrorCode, HeraldError } from "@herald/protocol";
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import pLimit, { type LimitFunction } from "p-limit";
import type { z } from "zod";
import { type HandlerGuard, parseJsonRequest, respondJson, subscribeGuarded } from "./guard.js";

/**
 * How much of an API a replica works on at once. Under a burst (every session of a dead connector asking at
 * once) unbounded work makes every request slow, the askers time out and ask again, and the replica spends
 * itself on answers nobody waits for. Bounded, the rest wait in arrival order, and a request that waited
 * longer than its asker's retry is dropped unanswered: the asker has sent it again by then.
 */
export type ApiLoadLimit = {
  /** Requests worked on at once. */
  concurrency: number;
  /** A request still waiting after this long is dropped (the asker's `retryAfterMs`). */
  staleAfterMs: number;
  /** Counts a dropped request. */
  onStale: () => void;
};

/** One `ApiLoadLimit` in force, shared by every API served with it. */
export type ApiLoad = { readonly limit: ApiLoadLimit; readonly run: LimitFunction };

export function apiLoad(limit: ApiLoadLimit): ApiLoad {
  return { limit, run: pLimit(limit.concurrency) };
}

/**
 * Serves a JSON request/reply API on a queue group: every reply is JSON and fits one NATS message, a request
 * that fails gets `{"error":{"code","message"}}` instead of silence, and every error is logged and counted
 * (`HandlerGuard`). Nothing a request contains can end the subscription or the process. With `load`, at most
 * its `concurrency` requests (of every API sharing it) are handled at once (see `ApiLoadLimit`).
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
  load?: ApiLoad,
): Subscription {
  const answer = async (msg: Msg): Promise<void> => {
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
  };
  const onMessage = load ? limited(answer, load) : answer;
  return subscribeGuarded(nc, subject, guard, subject, onMessage, { queue });
}

function limited(answer: (msg: Msg) => Promise<void>, { limit, run }: ApiLoad): (msg: Msg) => Promise<void> {
  return (msg) => {
    const received = performance.now();
    return run(() => {
      if (performance.now() - received > limit.staleAfterMs) {
        limit.onStale();
        return Promise.resolve();
      }
      return answer(msg);
    });
  };
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
