import { Header } from "@herald/protocol";
import { failSpan, type JsPublisher, type Span, traceHeaders } from "@herald/service-kit";
import type { JsMsg, PubAck } from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/transport-node";
import type { DestinationOrder } from "./destination-order.js";
import type { RefusedCopy } from "./mailbox-full.js";
import type { Prepared } from "./prepare.js";

/** A routed message, with the id its intake position gives it (for the dead letter of a refused copy). */
type Routed = Extract<Prepared, { kind: "route" }> & { fallbackId: string };

/**
 * The `Nats-Msg-Id` of one write: the message id and its destination. A single-user message (left in INTAKE
 * by an earlier release) published with a `Nats-Msg-Id` keeps that header, the key the mailbox stream
 * deduplicates a direct publish by, so a backend's retry across the upgrade is stored once. (A body id alone
 * is not unique across users, so it keeps its destination.)
 */
export function dedupKey(
  target: string,
  id: string,
  destination: string,
  header: string | undefined,
): string {
  return target === "user" && header !== undefined ? header : `${id}/${destination}`;
}

/**
 * Writes one routed message to each of its mailboxes or channel streams, in intake order per destination
 * (`order` fences a write behind an earlier message not yet stored). The writes are issued synchronously.
 */
export function writeDestinations(
  publisher: JsPublisher,
  order: DestinationOrder,
  routed: Routed,
  msg: JsMsg,
  refused: (err: unknown, copy: RefusedCopy) => Promise<PubAck>,
  span?: Span,
): Promise<PubAck>[] {
  const { id, body, fallbackId } = routed;
  const msgId = msg.headers?.get(Header.MsgId) || undefined;
  return routed.destinations.map((destination) =>
    order.write(destination.subject, msg.info.streamSequence, () =>
      tracedWrite(span, destination.subject, (headers) =>
        publisher
          .publish(destination.subject, body, {
            msgID: dedupKey(routed.target, id, destination.key, msgId),
            ...(headers ? { headers } : {}),
          })
          // A full mailbox refuses this copy for good: dead-lettered with a receipt, not retried.
          .catch((err: unknown) => refused(err, { key: destination.key, id, body, fallbackId })),
      ),
    ),
  );
}

/**
 * One mailbox or channel write, traced as an event on the route span (`herald.stored`, or `herald.write_failed`
 * and the span's error status) rather than as a span of its own, which would cost as much tracing work as a
 * whole hop; the stored message carries the route span's context to the connector.
 */
function tracedWrite(
  route: Span | undefined,
  subject: string,
  publish: (headers: MsgHdrs | undefined) => Promise<PubAck>,
): Promise<PubAck> {
  if (!route) return publish(undefined);
  return publish(traceHeaders(route)).then(
    (ack) => {
      route.addEvent("herald.stored", {
        "messaging.destination.name": subject,
        "herald.stream": ack.stream,
        "herald.seq": ack.seq,
        "herald.duplicate": ack.duplicate,
      });
      return ack;
    },
    (err: unknown) => {
      route.addEvent("herald.write_failed", { "messaging.destination.name": subject });
      failSpan(route, err);
      throw err;
    },
  );
}
