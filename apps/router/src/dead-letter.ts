import { type DeadReason, Header, type Subjects, utf8ByteLength } from "@herald/protocol";
import { type JsPublisher, type Span, traceHeaders } from "@herald/service-kit";
import type { JsMsg, PubAck } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import { headerSafe } from "./intake.js";

export type DeadLetterOptions = { s: Subjects; publisher: JsPublisher; budget: () => number };

/** Publishes a rejected intake message to DEAD with its reason and subject in headers. */
export function deadLetter(
  { s, publisher, budget }: DeadLetterOptions,
  msg: JsMsg,
  rejection: { reason: DeadReason; message: string },
  fallbackId: string,
  span?: Span,
): Promise<PubAck> {
  const h = headers();
  const why = headerSafe(rejection.message);
  h.set(Header.DeadReason, why);
  // The subject it was published to, so `herald dead replay` sends it there again.
  const subject = s.sentSubject(msg.subject);
  h.set(Header.DeadSubject, subject);
  // Headers count towards max_payload: a payload that fit alone is cut to fit with them (length kept).
  const room = budget() - utf8ByteLength(subject) - why.length;
  let data = msg.data;
  if (data.length > room) {
    h.set(Header.DeadTruncated, String(data.length));
    data = data.subarray(0, Math.max(0, room));
  }
  // The msgID makes a redelivered rejection land in DEAD once.
  return publisher.publish(s.dead(rejection.reason), data, {
    headers: traceHeaders(span, h) ?? h,
    msgID: `dead/${fallbackId}`,
  });
}
