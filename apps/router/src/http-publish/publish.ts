import { randomUUID } from "node:crypto";
import {
  type ChannelRetention,
  DeadReason,
  ErrorCode,
  HeraldError,
  isPartitionKey,
  messageIdSchema,
  PARTITION_KEY_RULE,
  type PublishAccepted,
  quote,
  type Subjects,
  userIdProblem,
  userToken,
} from "@herald/protocol";
import {
  isMessageTooLarge,
  isSubjectFull,
  type JsPublisher,
  JsPublishNoStreamError,
  JsPublishTimeoutError,
} from "@herald/service-kit";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { decide } from "../intake.js";

/** What an HTTP publish addresses: one of the four send subjects. */
export type PublishTarget =
  | { kind: "user"; userId: string }
  | { kind: "users"; key?: string | undefined }
  | { kind: "channel"; channel: string }
  | { kind: "broadcast" };

export type HttpPublishDeps = {
  s: Subjects;
  publisher: Pick<JsPublisher, "publish">;
  connected: () => boolean;
  maxMessageBytes: number;
  channelRetention: readonly ChannelRetention[];
};

/** A W3C `traceparent` (version 00 layout); anything else is not passed on. */
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The send subject of a target; a user id that cannot be a subject token is refused here. */
export function subjectOf(s: Subjects, target: PublishTarget): string {
  switch (target.kind) {
    case "user": {
      const problem = userIdProblem(target.userId);
      if (problem)
        throw new HeraldError(ErrorCode.InvalidUserId, `user id ${quote(target.userId)}: ${problem}`);
      return s.sendUser(userToken(target.userId));
    }
    case "users":
      if (target.key === undefined) return s.sendUsers;
      if (!isPartitionKey(target.key)) {
        throw new HeraldError(ErrorCode.InvalidRequest, `key ${quote(target.key)}: ${PARTITION_KEY_RULE}`);
      }
      return s.sendUsersKeyed(target.key);
    case "channel":
      return s.sendChannel(target.channel);
    case "broadcast":
      return s.sendBroadcast;
  }
}

/**
 * Checks one publish as the router checks intake (`decide`: size, subject, depth, JSON, shape, ids) and refuses
 * what it would dead-letter, so nothing invalid is published; then publishes the body unchanged to the send
 * subject and resolves with the id clients will see (body `id` ?? `Nats-Msg-Id` request header ?? a new UUID)
 * once JetStream has acknowledged it. The publish's `Nats-Msg-Id` is the request header ?? that id, so a retry
 * with the same id within the dedup window is stored once (`duplicate: true`).
 */
export async function publishOverHttp(
  deps: HttpPublishDeps,
  target: PublishTarget,
  payload: Uint8Array,
  headerId: string | undefined,
  traceparent?: string,
): Promise<PublishAccepted> {
  if (headerId !== undefined && !messageIdSchema.safeParse(headerId).success) {
    throw new HeraldError(
      ErrorCode.InvalidMessage,
      `Nats-Msg-Id ${quote(headerId)} is not a valid message id`,
    );
  }
  const subject = subjectOf(deps.s, target);
  const decision = decide(
    deps.s,
    { subject, payload, msgId: headerId },
    deps.maxMessageBytes,
    deps.channelRetention,
  );
  if (decision.kind === "dead") {
    // Every dead-letter reason is an error code of the same name, but for the subject the route itself built.
    const code = decision.reason === DeadReason.UnknownSubject ? ErrorCode.InvalidSubject : decision.reason;
    throw new HeraldError(code, decision.message);
  }
  const id = decision.id ?? randomUUID();
  if (!deps.connected()) throw new HeraldError(ErrorCode.Unavailable, "NATS is not connected; retry later");
  try {
    // The caller's trace continues through Herald, as a NATS publisher's `traceparent` header does.
    const h = traceparent !== undefined && TRACEPARENT.test(traceparent) ? natsHeaders() : undefined;
    if (h && traceparent) h.set("traceparent", traceparent);
    const ack = await deps.publisher.publish(subject, payload, {
      msgID: headerId ?? id,
      ...(h ? { headers: h } : {}),
    });
    return { id, duplicate: ack.duplicate };
  } catch (err) {
    throw refusal(err);
  }
}

/** Why JetStream did not acknowledge: nothing is claimed accepted, and the same id may be sent again. */
function refusal(err: unknown): HeraldError {
  const reason = err instanceof Error ? err.message : String(err);
  if (isMessageTooLarge(err)) {
    return new HeraldError(ErrorCode.TooLarge, `JetStream refused the message: ${reason}`, { cause: err });
  }
  if (isSubjectFull(err)) {
    return new HeraldError(ErrorCode.MailboxFull, `the user's mailbox is full: ${reason}`, { cause: err });
  }
  if (err instanceof JsPublishTimeoutError) {
    const message = "no PubAck in time: whether it was stored is unknown; retry with the same id";
    return new HeraldError(ErrorCode.Unavailable, message, { cause: err });
  }
  if (err instanceof JsPublishNoStreamError) {
    return new HeraldError(ErrorCode.Unavailable, `JetStream is not available: ${reason}`, { cause: err });
  }
  return new HeraldError(ErrorCode.Unavailable, `JetStream refused the message: ${reason}`, { cause: err });
}
