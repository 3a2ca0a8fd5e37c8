import { OTLPExporterBase } from "@opentelemetry/otlp-exporter-base";
import {
  convertLegacyHttpOptions,
  createOtlpHttpExportDelegate,
} from "@opentelemetry/otlp-exporter-base/node-http";
import {
  type IExportTraceServiceResponse,
  type ISerializer,
  ProtobufTraceSerializer,
  TraceExporterMetricsHelper,
} from "@opentelemetry/otlp-transformer";
import type { tracing } from "@opentelemetry/sdk-node";
import { serializeSpans } from "./otlp-spans.js";

type ReadableSpan = tracing.ReadableSpan;

const serializer: ISerializer<ReadableSpan[], IExportTraceServiceResponse> = {
  serializeRequest: serializeSpans,
  deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
};

/**
 * The SDK's OTLP/HTTP protobuf span exporter (`@opentelemetry/exporter-trace-otlp-proto`: the same delegate,
 * configuration from the `OTEL_EXPORTER_OTLP_*` variables, transport, retries and compression), with the
 * request encoded by `otlp-spans.ts`.
 */
export class OtlpProtobufSpanExporter extends OTLPExporterBase<ReadableSpan[]> {
  constructor() {
    super(
      createOtlpHttpExportDelegate(
        convertLegacyHttpOptions({}, "TRACES", "v1/traces", { "Content-Type": "application/x-protobuf" }),
        serializer,
        "otlp_http_span_exporter",
        TraceExporterMetricsHelper,
        undefined,
      ),
    );
  }
}

/**
 * True when the `OTEL_*` variables select the OTLP exporter alone over `http/protobuf` (the SDK's default), read
 * as the SDK reads them; any other exporter or protocol is left to the SDK.
 */
export function otlpProtobufRequested(env: NodeJS.ProcessEnv): boolean {
  const list = (value: string | undefined) =>
    new Set(
      (value ?? "")
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "" && s !== "null"),
    );
  const exporters = list(env.OTEL_TRACES_EXPORTER);
  if (exporters.size > 1 || (exporters.size === 1 && !exporters.has("otlp"))) return false;
  const protocol =
    nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) ??
    nonEmpty(env.OTEL_EXPORTER_OTLP_PROTOCOL) ??
    "http/protobuf";
  return protocol === "http/protobuf";
}

/** As the SDK reads a string variable: blank is unset. */
function nonEmpty(value: string | undefined): string | undefined {
  return value?.trim() ? value : undefined;
}
