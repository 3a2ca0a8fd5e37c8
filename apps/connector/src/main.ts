// The entry point: tracing (if the OTEL_* variables ask for it) starts before the service's modules load,
// so they load under the SDK; the composition root is service.ts.
import { bootTelemetry } from "@herald/service-kit/boot";

await bootTelemetry("connector");
await import("./service.js");
