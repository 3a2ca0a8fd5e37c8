// The SDK's CPU per traced message without NATS: the spans of one message (route with its write's event,
// deliver with its ack's event, cursor) made and handed on the way the services do, exported to an OTLP sink
// in a child process.
// `OTEL_SDK_DISABLED=true` gives the same loop without tracing (what the helpers cost while off).
// Usage: OTEL_EXPORTER_OTLP_ENDPOINT is set by this script; other OTEL_* variables pass through.
//   node bench/experiments/span-cost.mjs [messages] [six]   ("six": the former six-span shape)
import { fork } from "node:child_process";
import { createServer } from "node:http";

if (process.argv[2] === "--sink") {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/x-protobuf" });
      res.end();
    });
  });
  server.listen(0, "127.0.0.1", () => process.send?.(server.address().port));
} else {
  const sink = fork(new URL(import.meta.url).pathname, ["--sink"]);
  const port = await new Promise((resolve) => sink.once("message", resolve));
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${port}`;
  const { bootTelemetry } = await import("../../packages/service-kit/dist/boot.js");
  await bootTelemetry("span-cost");
  const kit = await import("../../packages/service-kit/dist/index.js");
  const { headers } = await import("@nats-io/transport-node");
  const { SpanKind, startSpan, endSpan, traceHeaders, traceparentOf, traceparentHeader } = kit;
  const n = Number(process.argv[2] ?? 50_000);
  const six = process.argv[3] === "six";
  const one = (i) => {
    const h = headers();
    h.set("traceparent", `00-${"ab".repeat(16)}-${(i + 1).toString(16).padStart(16, "0")}-01`);
    const route = startSpan("herald.router.route", h, SpanKind.CONSUMER, {
      "herald.stream": "INTAKE",
      "herald.seq": i,
      "herald.delivery_count": 1,
    });
    route?.setAttribute("messaging.message.id", `m${i}`);
    let wh;
    if (six) {
      const write = startSpan("herald.router.write", route, SpanKind.PRODUCER, {
        "messaging.destination.name": "herald.mailbox.u1",
        "messaging.message.id": `m${i}`,
      });
      wh = traceHeaders(write);
      write?.setAttributes({ "herald.stream": "MAILBOX", "herald.seq": i, "herald.duplicate": false });
      endSpan(write);
    } else {
      wh = traceHeaders(route);
      route?.addEvent("herald.stored", {
        "messaging.destination.name": "herald.mailbox.u1",
        "herald.stream": "MAILBOX",
        "herald.seq": i,
        "herald.duplicate": false,
      });
    }
    endSpan(route);
    const tp = traceparentHeader(wh);
    if (six) return formerHops(tp, i);
    const deliver = startSpan("herald.connector.deliver", tp, SpanKind.PRODUCER, {
      "messaging.message.id": `m${i}`,
      "herald.seq": i,
      "herald.device_id": "d",
    });
    deliver?.addEvent("herald.ack_received");
    const at = traceparentOf(deliver);
    endSpan(deliver);
    const cursor = startSpan("herald.persistence.cursor", at, SpanKind.CONSUMER, {
      "messaging.message.id": `m${i}`,
      "herald.seq": i,
      "herald.device_id": "d",
      "herald.acks_in_write": 1,
    });
    traceHeaders(cursor);
    endSpan(cursor);
  };
  // The shape before 2026-12-06 (with the write span above): send and ack spans, a receipt span under the cursor's.
  const formerHops = (tp, i) => {
    const send = startSpan("herald.connector.send", tp, SpanKind.PRODUCER, {
      "messaging.message.id": `m${i}`,
      "herald.seq": i,
      "herald.device_id": "d",
    });
    const st = traceparentOf(send);
    endSpan(send);
    const ack = startSpan("herald.connector.ack", st, SpanKind.CONSUMER, {
      "messaging.message.id": `m${i}`,
      "herald.seq": i,
      "herald.device_id": "d",
    });
    const at = traceparentOf(ack);
    endSpan(ack);
    const cursor = startSpan("herald.persistence.cursor", at, SpanKind.CONSUMER, {
      "messaging.message.id": `m${i}`,
      "herald.seq": i,
      "herald.stream": "MAILBOX",
      "herald.device_id": "d",
      "herald.acks_in_write": 1,
    });
    const receipt = startSpan("herald.persistence.receipt", cursor, SpanKind.PRODUCER, {
      "messaging.message.id": `m${i}`,
      "herald.seq": i,
      "messaging.destination.name": "herald.receipt.u1",
    });
    traceHeaders(receipt);
    endSpan(receipt);
    endSpan(cursor);
  };
  // Paced like a service at ~5,000 msg/s: batches of 50 per 10 ms, so the batch processor's timer and
  // exports interleave with span making as they do in a service.
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i += 50) {
    for (let k = i; k < i + 50; k++) one(k);
    await new Promise((r) => setTimeout(r, 10));
  }
  await kit.shutdownTracing();
  const cpu = process.cpuUsage(cpu0);
  const us = (cpu.user + cpu.system) / n;
  console.log(
    JSON.stringify({
      messages: n,
      cpuMicrosPerMessage: Math.round(us * 10) / 10,
      wallMs: Math.round(performance.now() - t0),
    }),
  );
  sink.kill();
}
