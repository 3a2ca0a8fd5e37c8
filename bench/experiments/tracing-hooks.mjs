// CPU per message of the tracing hooks alone, in one process: the six spans of a user message as the services
// make them (extract from headers, start, inject, traceparent strings, end, batch export to a local sink that
// discards). `node bench/experiments/tracing-hooks.mjs off|lean|sdk [messages]`. CPU time, not wall time, so
// other work on the machine moves it less than the end-to-end bench.
import { spawn } from "node:child_process";
import { headers } from "@nats-io/transport-node";

const mode = process.argv[2] ?? "lean";
const messages = Number(process.argv[3] ?? 50_000);
// The sink runs in its own process, as a collector would: its CPU is not the service's.
const sink = spawn(
  process.execPath,
  [
    "-e",
    `const s = require("node:http").createServer((q, r) => { q.resume(); q.on("end", () => r.end()); });
     s.listen(0, "127.0.0.1", () => console.log(s.address().port));`,
  ],
  { stdio: ["ignore", "pipe", "inherit"] },
);
const port = await new Promise((resolve) =>
  sink.stdout.once("data", (d) => resolve(Number(String(d).trim()))),
);
if (mode !== "off") {
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${port}`;
  if (mode === "sdk") process.env.OTEL_EXPORTER_OTLP_COMPRESSION = "none"; // forces the SDK path
  const { bootTelemetry } = await import("@herald/service-kit/boot");
  await bootTelemetry("bench");
}
const kit = await import("@herald/service-kit");
const { startSpan, endSpan, traceHeaders, traceparentOf, SpanKind } = kit;

function oneMessage(i) {
  const intake = headers();
  intake.set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  const route = startSpan("herald.router.route", intake, SpanKind.CONSUMER, {
    "herald.stream": "I",
    "herald.seq": i,
  });
  const write = startSpan("herald.router.write", route, SpanKind.PRODUCER, {
    "messaging.destination.name": "x.mbox.u",
    "messaging.message.id": `m-${i}`,
  });
  const stored = traceHeaders(write);
  write?.setAttributes({ "herald.stream": "MBOX", "herald.seq": i, "herald.duplicate": false });
  endSpan(write);
  endSpan(route);
  const send = startSpan("herald.connector.send", stored, SpanKind.PRODUCER, {
    "messaging.message.id": `m-${i}`,
    "herald.seq": i,
    "herald.device_id": "d",
  });
  endSpan(send);
  const ack = startSpan("herald.connector.ack", traceparentOf(send), SpanKind.CONSUMER, {
    "messaging.message.id": `m-${i}`,
    "herald.seq": i,
    "herald.device_id": "d",
  });
  const cursor = startSpan("herald.persistence.cursor", traceparentOf(ack), SpanKind.CONSUMER, {
    "messaging.message.id": `m-${i}`,
    "herald.seq": i,
  });
  endSpan(ack);
  const receipt = startSpan("herald.persistence.receipt", cursor, SpanKind.PRODUCER, {
    "messaging.message.id": `m-${i}`,
  });
  traceHeaders(receipt);
  endSpan(receipt);
  endSpan(cursor);
}

for (let i = 0; i < 5_000; i++) oneMessage(i);
await new Promise((r) => setTimeout(r, 200));
const before = process.cpuUsage();
for (let i = 0; i < messages; i++) {
  oneMessage(i);
  // Let the exporter's requests run, as they would between messages.
  if (i % 500 === 0) await new Promise((r) => setImmediate(r));
}
await kit.shutdownTracing();
const used = process.cpuUsage(before);
console.log(
  JSON.stringify({
    mode,
    messages,
    cpuMicrosPerMessage: Math.round(((used.user + used.system) / messages) * 100) / 100,
  }),
);
sink.kill();
