import { startTelemetry } from "@herald/service-kit";

startTelemetry("router");
